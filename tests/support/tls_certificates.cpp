#include "support/tls_certificates.hpp"

#include <fstream>
#include <stdexcept>

#include "support/process.hpp"

namespace volnode::test {
namespace {

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run(argv, std::chrono::seconds(60));
  if (result.exit_code != 0) throw std::runtime_error("openssl " + args.front() + " failed: " + result.output);
}

}  // namespace

TestCa::TestCa(const std::filesystem::path& dir, const std::string& name) : dir_(dir) {
  std::filesystem::create_directories(dir_);
  ca_ = {dir_ / (name + ".pem"), dir_ / (name + ".key")};
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", "2", "-subj", "/CN=" + name,
           "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
           "-keyout", ca_.key.string(), "-out", ca_.cert.string()});
}

TlsIdentity TestCa::issue(const std::string& common_name, const std::string& san) const {
  const std::string stem = ca_.cert.stem().string() + "-" + common_name;
  TlsIdentity id{dir_ / (stem + ".pem"), dir_ / (stem + ".key")};
  const auto request = dir_ / (stem + ".csr");
  const auto extensions = dir_ / (stem + ".ext");
  std::ofstream(extensions) << "basicConstraints = CA:FALSE\n"
                            << "keyUsage = critical, digitalSignature, keyEncipherment\n"
                            << "extendedKeyUsage = serverAuth, clientAuth\n"
                            << "subjectAltName = " << san << "\n";
  openssl({"req", "-new", "-newkey", "rsa:2048", "-sha256", "-nodes", "-subj", "/CN=" + common_name, "-keyout",
           id.key.string(), "-out", request.string()});
  openssl({"x509", "-req", "-in", request.string(), "-CA", ca_.cert.string(), "-CAkey", ca_.key.string(),
           "-CAcreateserial", "-days", "2", "-sha256", "-extfile", extensions.string(), "-out", id.cert.string()});
  return id;
}

std::filesystem::path TestCa::revocationList(const std::vector<TlsIdentity>& revoked) const {
  // `openssl ca` keeps its state in a small database next to the CA; a new one each time.
  const std::string stem = ca_.cert.stem().string() + "-crl";
  const auto database = dir_ / (stem + "-index.txt");
  const auto number = dir_ / (stem + "-number");
  const auto config = dir_ / (stem + ".cnf");
  const auto crl = dir_ / (stem + ".pem");
  std::ofstream(database).close();
  std::ofstream(number) << "01\n";
  std::ofstream(config) << "[ca]\ndefault_ca = test_ca\n[test_ca]\n"
                        << "database = " << database.string() << "\n"
                        << "crlnumber = " << number.string() << "\n"
                        << "default_md = sha256\ndefault_crl_days = 2\n";
  const std::vector<std::string> ca{"ca", "-config", config.string(), "-cert", ca_.cert.string(), "-keyfile",
                                    ca_.key.string()};
  for (const auto& id : revoked) {
    auto args = ca;
    args.insert(args.end(), {"-revoke", id.cert.string()});
    openssl(args);
  }
  auto args = ca;
  args.insert(args.end(), {"-gencrl", "-out", crl.string()});
  openssl(args);
  return crl;
}

}  // namespace volnode::test
