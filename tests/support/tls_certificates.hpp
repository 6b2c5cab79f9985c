#pragma once
// Certificates for DICOM TLS tests, made with the openssl command line tool: a
// test CA and the certificates it signs (RSA 2048, SHA-256, valid two days).
#include <filesystem>
#include <string>
#include <vector>

namespace volnode::test {

struct TlsIdentity {
  std::filesystem::path cert;  // PEM certificate
  std::filesystem::path key;   // PEM private key (unencrypted)
};

class TestCa {
 public:
  // A self-signed CA named `name`, its files in dir/<name>.pem and dir/<name>.key.
  TestCa(const std::filesystem::path& dir, const std::string& name);

  const std::filesystem::path& cert() const { return ca_.cert; }

  // A certificate for `common_name`, signed by this CA, with the subjectAltName
  // `san` (openssl syntax, e.g. "IP:127.0.0.1,DNS:localhost"), usable as server
  // and as client certificate. Throws std::runtime_error with openssl's output.
  TlsIdentity issue(const std::string& common_name, const std::string& san = "IP:127.0.0.1,DNS:localhost") const;

  // A certificate revocation list of this CA (PEM, valid two days) that revokes
  // `revoked` (none: an empty but valid CRL). Throws like issue().
  std::filesystem::path revocationList(const std::vector<TlsIdentity>& revoked) const;

 private:
  std::filesystem::path dir_;
  TlsIdentity ca_;
};

}  // namespace volnode::test
