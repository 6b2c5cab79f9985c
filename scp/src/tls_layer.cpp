#include "tls_layer.hpp"

#include <arpa/inet.h>

#include <functional>
#include <mutex>

#include <dcmtk/dcmtls/tlslayer.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "volnode/core/error.hpp"

namespace volnode {
namespace {

// Filled by the verify callback of the handshake running on this thread.
thread_local std::string t_verify_error;

extern "C" int recordVerifyError(int ok, X509_STORE_CTX* store) {
  if (!ok && t_verify_error.empty()) {
    const int code = X509_STORE_CTX_get_error(store);
    std::string subject;
    if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
      char name[256] = {0};
      X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof(name) - 1);
      subject = name;
    }
    t_verify_error = X509_verify_cert_error_string(code);
    if (!subject.empty()) t_verify_error += " (certificate " + subject + ")";
  }
  return ok;  // the decision stays OpenSSL's (DCMTK's own callback does the same)
}

void initOpenSslOnce() {
  static std::once_flag once;
  std::call_once(once, [] { DcmTLSTransportLayer::initializeOpenSSL(); });
}

bool isIpAddress(const std::string& host) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 || inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

DcmTLSSecurityProfile dcmtkProfile(TlsProfile profile) {
  switch (profile) {
    case TlsProfile::Bcp195NonDowngrading: return TSP_Profile_BCP195_ND;
  }
  return TSP_Profile_BCP195_ND;
}

DcmCertificateVerification dcmtkVerification(TlsVerify verify) {
  switch (verify) {
    case TlsVerify::Require: return DCV_requireCertificate;
    case TlsVerify::Check: return DCV_checkCertificate;
    case TlsVerify::Ignore: return DCV_ignoreCertificate;
  }
  return DCV_requireCertificate;
}

// The options that cannot work together, before any file is read.
void checkCombination(const TlsOptions& o, const std::function<void(const std::string&)>& fail) {
  const std::string& p = o.key_prefix;
  if (o.role == TlsRole::Acceptor && (o.cert.empty() || o.key.empty()))
    fail(p + "tls_cert and " + p + "tls_key are required with " + p + "tls");
  if (o.cert.empty() != o.key.empty())
    fail(p + "tls_cert and " + p + "tls_key go together (a client certificate and its key)");
  if (o.role == TlsRole::Requestor && o.verify == TlsVerify::Check)
    fail(p + "tls_verify_peer = \"check\" is for the listener only (a server always sends its certificate); "
             "use \"require\" or \"ignore\"");
  if (!o.crl.empty() && o.ca.empty())
    fail(p + "tls_crl needs " + p + "tls_ca (the CAs whose revocation lists it holds)");
  if (o.verify == TlsVerify::Require && o.ca.empty())
    fail(p + "tls_verify_peer = \"require\" needs " + p + "tls_ca (the certificates to trust)");
}

}  // namespace

TlsVerify tlsVerifyFromText(const std::string& text, const std::string& key) {
  if (text == "require") return TlsVerify::Require;
  if (text == "check") return TlsVerify::Check;
  if (text == "ignore") return TlsVerify::Ignore;
  throw Error(Errc::InvalidConfig, key + " = \"" + text + "\" is not allowed; use one of: require, check, ignore");
}

TlsOptions listenerTlsOptions(const DicomConfig& config) {
  TlsOptions o;
  o.role = TlsRole::Acceptor;
  o.cert = config.tls_cert;
  o.key = config.tls_key;
  o.ca = config.tls_ca;
  o.crl = config.tls_crl;
  o.verify = tlsVerifyFromText(config.tls_verify_peer, "dicom.tls_verify_peer");
  o.key_prefix = "dicom.";
  o.purpose = "DICOM TLS";
  return o;
}

TlsOptions destinationTlsOptions(const Destination& peer) {
  TlsOptions o;
  o.role = TlsRole::Requestor;
  o.cert = peer.tls_cert;
  o.key = peer.tls_key;
  o.ca = peer.tls_ca;
  o.crl = peer.tls_crl;
  o.verify = tlsVerifyFromText(peer.tls_verify_peer, "destinations." + peer.name + ".tls_verify_peer");
  if (peer.tls_verify_host) o.verify_host = peer.host;
  o.key_prefix = "destinations." + peer.name + ".";
  o.purpose = "DICOM TLS to " + peer.name;
  return o;
}

std::unique_ptr<DcmTLSTransportLayer> makeTlsLayer(const TlsOptions& o) {
  const std::string& p = o.key_prefix;
  auto fail = [&](const std::string& what) { throw Error(Errc::InvalidConfig, o.purpose + ": " + what); };
  checkCombination(o, fail);
  initOpenSslOnce();
  auto layer = std::make_unique<DcmTLSTransportLayer>(o.role == TlsRole::Acceptor ? NET_ACCEPTOR : NET_REQUESTOR,
                                                      nullptr, OFFalse);
  if (!*layer) fail("cannot create the TLS context");
  if (layer->setTLSProfile(dcmtkProfile(o.profile)).bad()) fail("cannot select the BCP 195 profile");
  if (layer->activateCipherSuites().bad()) fail("cannot activate the cipher suites");
  if (!o.cert.empty()) {
    if (layer->setPrivateKeyFile(o.key.c_str(), DCF_Filetype_PEM).bad())
      fail("cannot load the private key " + o.key + " (" + p + "tls_key)");
    if (layer->setCertificateFile(o.cert.c_str(), DCF_Filetype_PEM).bad())
      fail("cannot load the certificate " + o.cert + " (" + p + "tls_cert)");
    if (!layer->checkPrivateKeyMatchesCertificate())
      fail(o.key + " does not match " + o.cert + " (" + p + "tls_key, " + p + "tls_cert)");
  }
  if (!o.ca.empty() && layer->addTrustedCertificateFile(o.ca.c_str(), DCF_Filetype_PEM).bad())
    fail("cannot load the trusted certificates " + o.ca + " (" + p + "tls_ca)");
  if (!o.crl.empty() && (layer->addCertificateRevocationList(o.crl.c_str(), DCF_Filetype_PEM).bad() ||
                         layer->setCRLverification(TCR_checkLeafCRL).bad()))
    fail("cannot load the certificate revocation list " + o.crl + " (" + p + "tls_crl)");
  layer->setCertificateVerification(dcmtkVerification(o.verify));
  SSL_CTX* context = layer->getNativeHandle();
  if (o.role == TlsRole::Requestor && o.verify != TlsVerify::Ignore && !o.verify_host.empty()) {
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(context);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = isIpAddress(o.verify_host) ? X509_VERIFY_PARAM_set1_ip_asc(param, o.verify_host.c_str())
                                               : X509_VERIFY_PARAM_set1_host(param, o.verify_host.c_str(), 0);
    if (set != 1) fail("cannot check the certificate's name against host '" + o.verify_host + "'");
  }
  // The mode DCMTK chose; the callback only records why a certificate was refused.
  SSL_CTX_set_verify(context, SSL_CTX_get_verify_mode(context), recordVerifyError);
  return layer;
}

std::string takeTlsVerifyError() {
  std::string error = std::move(t_verify_error);
  t_verify_error.clear();
  return error;
}

}  // namespace volnode
