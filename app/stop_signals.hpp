#pragma once
// SIGINT and SIGTERM blocked in the calling thread, so that only an explicit
// sigwait/sigtimedwait on the returned set takes them; every thread started
// afterwards inherits the mask. SIGPIPE is ignored (a peer that hangs up is an
// error on its socket, not the end of the process). Call first thing in main's role.
#include <signal.h>

namespace volnode {

sigset_t blockStopSignals();

}  // namespace volnode
