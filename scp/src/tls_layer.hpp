#pragma once
// Internal to volnode_scp: the one place a DICOM TLS transport layer is made,
// for the listener (acceptor) and for the associations the node opens (requestor),
// so both load certificates, keys, CAs and CRLs and choose the profile alike.
#include <memory>
#include <string>

#include "volnode/core/config.hpp"

class DcmTLSTransportLayer;

namespace volnode {

enum class TlsRole { Acceptor, Requestor };

// What is done with the peer's certificate (config value tls_verify_peer).
enum class TlsVerify {
  Require,  // the peer must send a certificate that chains to tls_ca
  Check,    // checked when the peer sends one (acceptor only: a server always sends one)
  Ignore,   // encrypt without checking who is at the other end (testing only)
};

// "require" | "check" | "ignore"; throws Error(InvalidConfig) naming `key` for anything else.
TlsVerify tlsVerifyFromText(const std::string& text, const std::string& key);

enum class TlsProfile {
  Bcp195NonDowngrading,  // PS3.15 B.9: TLS 1.2 or newer, BCP 195 cipher suites
};

struct TlsOptions {
  TlsRole role = TlsRole::Acceptor;
  std::string cert;  // our certificate (PEM); required for an acceptor, optional for a requestor
  std::string key;   // its private key (PEM)
  std::string ca;    // trusted CA or peer certificates (PEM)
  std::string crl;   // CRLs (PEM) of the CAs in `ca`
  TlsVerify verify = TlsVerify::Require;
  TlsProfile profile = TlsProfile::Bcp195NonDowngrading;
  // Requestor: the peer's certificate must name this host (DNS name or IP address); "" = not checked.
  std::string verify_host;
  // For messages: the configuration keys' prefix ("dicom.", "destinations.pacs.")
  // and what the layer is for ("DICOM TLS", "DICOM TLS to pacs").
  std::string key_prefix;
  std::string purpose = "DICOM TLS";
};

// The listener's options from [dicom], and a destination's from [destinations.<name>].
TlsOptions listenerTlsOptions(const DicomConfig& config);
TlsOptions destinationTlsOptions(const Destination& peer);

// The transport layer for `options`. Throws Error(InvalidConfig), naming the key,
// when a file cannot be used or the options do not go together.
std::unique_ptr<DcmTLSTransportLayer> makeTlsLayer(const TlsOptions& options);

// Why OpenSSL refused the peer's certificate in the last handshake on this thread
// (DCMTK only says "certificate verify failed"), and forgets it; "" when none was.
std::string takeTlsVerifyError();

}  // namespace volnode
