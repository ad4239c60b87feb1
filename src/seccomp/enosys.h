// berth/seccomp (internal): the "-ENOSYS for unknown syscalls" prefix.
//
// A deny-by-default profile written before a syscall existed answers it with
// the default errno (usually EPERM), and libc only falls back to an older
// syscall on ENOSYS (clone3 -> clone, faccessat2 -> faccessat, ...). runc
// solves this by prefixing the filter with a stub that returns ENOSYS for
// any syscall number above the largest one the profile names, per
// architecture; berth does the same (own implementation).
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

namespace berth::seccomp {

// The stub for the given libseccomp architecture tokens and syscall names,
// to be placed before the libseccomp program (it falls through into it).
// Empty if there is nothing to add or it would not fit 8-bit jumps.
std::vector<struct sock_filter> enosys_stub(const std::vector<uint32_t>& arch_tokens,
                                            const std::vector<std::string>& names);

}  // namespace berth::seccomp
