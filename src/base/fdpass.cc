#include "base/fdpass.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace berth {
namespace {

// One data buffer and room for one fd: the frame both directions use.
// Not copyable: mh points into the object itself.
struct OneFdMessage {
  iovec iov;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr mh{};
  OneFdMessage(void* data, size_t len) : iov{data, len} {
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
  }
  OneFdMessage(const OneFdMessage&) = delete;
  OneFdMessage& operator=(const OneFdMessage&) = delete;
};

}  // namespace

Result<size_t> send_with_fd(int sock, const void* data, size_t len, int fd, const char* what) {
  OneFdMessage m(const_cast<void*>(data), len);
  msghdr& mh = m.mh;
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  for (;;) {
    ssize_t n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return sys_error(what);
  }
}

Result<size_t> recv_with_fd(int sock, void* buf, size_t cap, UniqueFd* fd, const char* what) {
  OneFdMessage m(buf, cap);
  msghdr& mh = m.mh;
  ssize_t n;
  do n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return sys_error(what);
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
      int v;
      std::memcpy(&v, CMSG_DATA(c), sizeof v);
      fd->reset(v);
    }
  return static_cast<size_t>(n);
}

}  // namespace berth
