// berth/base: one file descriptor passed over a unix socket (SCM_RIGHTS), as
// runc's console socket, the seccomp listener hand-over and listenerPath use.
//
// Promises: the fd travels with the first byte of `data`; EINTR is retried;
// sends never raise SIGPIPE; a received fd is close-on-exec and owned by the
// caller; errors are errno-based and name `what`.
#pragma once

#include <cstddef>

#include "base/error.h"
#include "base/fd.h"

namespace berth {

// One sendmsg: the bytes sent (a stream socket may take fewer than len).
Result<size_t> send_with_fd(int sock, const void* data, size_t len, int fd, const char* what);
// One recvmsg into buf (at most cap bytes): the bytes read (0 at EOF); *fd
// receives the passed descriptor, or stays empty when none came.
Result<size_t> recv_with_fd(int sock, void* buf, size_t cap, UniqueFd* fd, const char* what);

}  // namespace berth
