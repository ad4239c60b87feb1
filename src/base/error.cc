#include "base/error.h"

namespace berth {

const char* errc_name(Errc c) {
  switch (c) {
    case Errc::invalid_argument: return "invalid argument";
    case Errc::invalid_input: return "invalid input";
    case Errc::not_found: return "not found";
    case Errc::already_exists: return "already exists";
    case Errc::io: return "i/o error";
    case Errc::digest_mismatch: return "digest mismatch";
    case Errc::size_mismatch: return "size mismatch";
    case Errc::unsupported: return "unsupported";
    case Errc::permission: return "permission denied";
    case Errc::busy: return "busy";
    case Errc::limit: return "limit exceeded";
    case Errc::network: return "network error";
    case Errc::unauthorized: return "unauthorized";
    case Errc::denied: return "denied";
    case Errc::timeout: return "timeout";
    case Errc::internal: return "internal error";
  }
  return "error";
}

std::string Error::str() const {
  if (sys_errno != 0) return message + ": " + std::strerror(sys_errno);
  return message;
}

Error& Error::wrap(std::string_view context) {
  message = std::string(context) + ": " + message;
  return *this;
}

Error sys_error(std::string_view what, int err) {
  Errc c = Errc::io;
  if (err == ENOENT) c = Errc::not_found;
  else if (err == EEXIST) c = Errc::already_exists;
  else if (err == EACCES || err == EPERM) c = Errc::permission;
  else if (err == EBUSY || err == EWOULDBLOCK) c = Errc::busy;
  return Error(c, std::string(what), err);
}

}  // namespace berth
