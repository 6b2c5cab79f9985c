#pragma once
// DCMTK's process-wide network settings, made once at start-up.
//
// DCMTK 3.6.7 keeps them in globals and in the environment and reads them on
// every association, from whichever thread opens or accepts it: TCP_NODELAY with
// getenv(), dcmDisableGethostbyaddr, OpenSSL's library state, its log level.
// Changing any of them while another thread associates is a data race (setenv
// against getenv can crash), so they are set here, before any thread exists,
// and never again. volnode changes no other DCMTK global at run time; the
// listener's dcmExternalSocketHandle handover is serialised by its own lock and
// read only by the listener (socket_handover.cpp), and each SCU association takes
// its connect timeout from its own settings (scu_connect.hpp), not from
// dcmConnectionTimeout.

namespace volnode {

// Sets, once per process (later calls do nothing):
// - TCP_NODELAY=1 in the environment, which DCMTK reads for each association:
//   without it, Nagle + delayed ACKs stall every C-STORE ~40 ms;
// - dcmDisableGethostbyaddr: an accepted peer is known by its numeric address,
//   which the allow-list compares, instead of a reverse-DNS name that a slow DNS
//   would take seconds to give;
// - OpenSSL's initialisation for DCMTK's TLS layer;
// - DCMTK's own log at errors only (volnode logs what matters itself; reading
//   headers up to the pixel data would warn on every file).
// Call from main() before any thread is started, and before any DCMTK use.
void initDicomNetworking();

}  // namespace volnode
