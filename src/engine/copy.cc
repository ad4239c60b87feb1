// Docker's `cp` path rules on top of copy_io's fd-only sources and sinks.
// Here the two sides differ: the host side is the caller's own and resolved
// by the kernel as usual; the container side is resolved only with Root.
#include "engine/copy.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <climits>
#include <cstdlib>

#include "engine/copy_io.h"

namespace berth::engine {

using copy_detail::clean_in_root;
using copy_detail::Found;
using copy_detail::open_found;
using copy_detail::resolve;
using copy_detail::leaf_of;
using copy_detail::Owners;
using copy_detail::parent_of;
using layer::detail::Root;

namespace {

// A container-side path as typed: "dir/." copies contents, a trailing "/"
// demands a directory. rel is cleaned and relative to the rootfs ("" = "/").
struct CtrPath {
  std::string given;
  std::string rel;
  bool slash = false;
  bool contents = false;
};

CtrPath parse_ctr(const std::string& p) {
  CtrPath c;
  c.given = p.empty() || p[0] != '/' ? "/" + p : p;  // relative to the container's "/"
  c.contents = p == "." || p.ends_with("/.");
  c.slash = c.contents || p.ends_with("/");
  c.rel = clean_in_root(p);
  return c;
}

std::string who(const CopyOptions& o) { return o.container.empty() ? "the container" : o.container; }

Error not_found_in(const std::string& path, const CopyOptions& o) {
  return Error(Errc::not_found, "Could not find the file " + path + " in container " + who(o));
}

// The source side of copy_out/copy_out_tar: an O_PATH fd and the name the
// copy gets ("" = the directory's contents).
struct Source {
  UniqueFd fd;
  struct stat st {};
  std::string name;
  bool contents = false;
};

// Where a container path lives: the rootfs, or a mount's source. rel is
// relative to root; shown(rel) spells it as the container does.
struct Target {
  Root root;
  std::string rel;
  std::string mount;  // the mount's destination (cleaned), "" for the rootfs
  std::string shown(const std::string& r) const { return "/" + copy_detail::join_rel(mount, r); }
};

Result<Target> open_target(const std::string& rootfs, const std::string& rel, const CopyOptions& o, bool writing) {
  const CopyMount* best = nullptr;
  std::string best_dest;
  for (auto& m : o.mounts) {
    std::string d = clean_in_root(m.destination);
    if (d.empty()) continue;  // a mount over "/" is not a thing berth makes
    bool under = rel == d || (rel.size() > d.size() && rel.compare(0, d.size(), d) == 0 && rel[d.size()] == '/');
    if (under && (!best || d.size() > best_dest.size())) {
      best = &m;
      best_dest = d;
    }
  }
  if (!best) {
    if (writing && o.read_only_rootfs) return Error(Errc::permission, "container rootfs is marked read-only");
    TRY_ASSIGN(Root root, Root::open(rootfs, o.force_walk_resolver));
    return Target{std::move(root), rel, ""};
  }
  if (writing && best->read_only) return Error(Errc::permission, "mounted volume is marked read-only");
  TRY_ASSIGN(Root root, Root::open(best->source, o.force_walk_resolver));
  std::string inner = rel.size() == best_dest.size() ? "" : rel.substr(best_dest.size() + 1);
  return Target{std::move(root), inner, best_dest};
}

Result<Source> container_source(const std::string& rootfs, const std::string& ctr_path, const CopyOptions& o) {
  CtrPath src = parse_ctr(ctr_path);
  TRY_ASSIGN(Target t, open_target(rootfs, src.rel, o, false));
  TRY_ASSIGN(Found f, resolve(t.root, t.rel, o.follow_link || src.slash));
  if (!f.exists) return not_found_in(src.given, o);
  Source s;
  TRY_ASSIGN(s.fd, open_found(f));
  if (::fstat(s.fd.get(), &s.st) != 0) return sys_error("stat " + src.given);
  if (src.slash && !S_ISDIR(s.st.st_mode)) return Error(Errc::invalid_argument, src.given + ": not a directory");
  // The copy is named after the path as typed (cp -L /link keeps "link").
  s.name = leaf_of(src.rel);
  s.contents = S_ISDIR(s.st.st_mode) && (src.contents || src.rel.empty());
  return s;
}

std::string host_basename(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto pos = p.rfind('/');
  return pos == std::string::npos ? p : p.substr(pos + 1);
}

std::string host_dirname(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto pos = p.rfind('/');
  if (pos == std::string::npos) return ".";
  return pos == 0 ? "/" : p.substr(0, pos);
}

}  // namespace

Status copy_out(const std::string& rootfs, const std::string& ctr_path, const std::string& host_dest,
                const CopyOptions& o) {
  TRY_ASSIGN(Source src, container_source(rootfs, ctr_path, o));
  bool src_dir = S_ISDIR(src.st.st_mode);
  if (host_dest.empty()) return Error(Errc::invalid_argument, "empty destination path");

  // The host side is the caller's: its symlinks are followed as cp(1) would.
  std::string dir, top;
  struct stat dst;
  bool dest_slash = host_dest.ends_with("/");
  if (::stat(host_dest.c_str(), &dst) == 0) {
    if (S_ISDIR(dst.st_mode)) {
      dir = host_dest;
      top = src.contents ? "" : src.name;
    } else {
      if (dest_slash) return Error(Errc::invalid_argument, host_dest + ": not a directory");
      if (src_dir) return Error(Errc::invalid_argument, "cannot copy a directory to a file: " + host_dest);
      char real[PATH_MAX];
      if (!::realpath(host_dest.c_str(), real)) return sys_error("resolve " + host_dest);
      dir = host_dirname(real);
      top = host_basename(real);
    }
  } else if (errno == ENOENT) {
    if (dest_slash && !src_dir)
      return Error(Errc::not_found, "destination directory " + host_dest + " must exist", ENOENT);
    dir = host_dirname(host_dest);
    top = host_basename(host_dest);
    struct stat pst;
    if (::stat(dir.c_str(), &pst) != 0 || !S_ISDIR(pst.st_mode))
      return Error(Errc::not_found, "no such directory: " + dir, ENOENT);
  } else {
    return sys_error("stat " + host_dest);
  }
  if (top == "." || top == "..") return Error(Errc::invalid_argument, "bad destination " + host_dest);
  TRY_ASSIGN(Root out, Root::open(dir));
  Owners owners{o.archive ? Owners::Mode::source : Owners::Mode::caller};
  std::string label = dir.ends_with("/") ? dir : dir + "/";
  copy_detail::DirSink sink(std::move(out), "", owners, label);
  sink.devices = false;
  return copy_detail::walk(src.fd.get(), top, sink);
}

Status copy_in(const std::string& host_src, const std::string& rootfs, const std::string& ctr_dest,
               const CopyOptions& o) {
  if (host_src.empty()) return Error(Errc::invalid_argument, "empty source path");
  bool src_slash = host_src.ends_with("/");
  std::string name = host_basename(host_src);
  bool contents = host_src.ends_with("/.") || name == "." || name == ".." || name == "/";
  bool follow = o.follow_link || src_slash || contents;
  UniqueFd top(::open(host_src.c_str(), O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW)));
  if (!top) return sys_error("lstat " + host_src);
  struct stat st;
  if (::fstat(top.get(), &st) != 0) return sys_error("stat " + host_src);
  bool src_dir = S_ISDIR(st.st_mode);
  if (src_slash && !src_dir) return Error(Errc::invalid_argument, host_src + ": not a directory");
  contents = contents && src_dir;

  CtrPath dest = parse_ctr(ctr_dest);
  TRY_ASSIGN(Target t, open_target(rootfs, dest.rel, o, true));
  // Docker follows a symlink at DEST — inside the container here.
  TRY_ASSIGN(Found f, resolve(t.root, t.rel, true));
  std::string base, top_name;
  if (f.exists && S_ISDIR(f.st.st_mode)) {
    base = f.rel;
    top_name = contents ? "" : name;
  } else if (f.exists) {
    if (dest.slash) return Error(Errc::invalid_argument, dest.given + ": not a directory");
    if (src_dir) return Error(Errc::invalid_argument, "cannot copy a directory to a file: " + dest.given);
    base = parent_of(f.rel);
    top_name = leaf_of(f.rel);
  } else {
    if (!f.parent_ok) return not_found_in(t.shown(parent_of(f.rel)), o);
    if (dest.slash && !src_dir)
      return Error(Errc::not_found, "destination directory " + dest.given + " must exist", ENOENT);
    base = parent_of(f.rel);
    top_name = leaf_of(f.rel);
  }
  f.parent.reset();
  Owners owners = o.archive ? Owners{Owners::Mode::source} : Owners{Owners::Mode::fixed, o.root_uid, o.root_gid};
  copy_detail::DirSink sink(std::move(t.root), base, owners, t.mount.empty() ? "/" : "/" + t.mount + "/");
  return copy_detail::walk(top.get(), top_name, sink);
}

Status copy_out_tar(const std::string& rootfs, const std::string& ctr_path, int out_fd, const CopyOptions& o) {
  TRY_ASSIGN(Source src, container_source(rootfs, ctr_path, o));
  TRY_ASSIGN(auto sink, copy_detail::TarSink::open(out_fd));
  return copy_detail::walk(src.fd.get(), src.contents ? "." : src.name, *sink);
}

Status copy_in_tar(int in_fd, const std::string& rootfs, const std::string& ctr_dest, const CopyOptions& o) {
  CtrPath dest = parse_ctr(ctr_dest);
  TRY_ASSIGN(Target t, open_target(rootfs, dest.rel, o, true));
  TRY_ASSIGN(Found f, resolve(t.root, t.rel, true));
  if (!f.exists) return not_found_in(dest.given, o);
  if (!S_ISDIR(f.st.st_mode)) return Error(Errc::invalid_argument, "extraction point is not a directory: " + dest.given);
  f.parent.reset();
  Owners owners = o.archive ? Owners{Owners::Mode::source} : Owners{Owners::Mode::fixed, o.root_uid, o.root_gid};
  copy_detail::DirSink sink(std::move(t.root), f.rel, owners, t.mount.empty() ? "/" : "/" + t.mount + "/");
  sink.create_parents = true;
  return copy_detail::read_tar(in_fd, sink);
}

}  // namespace berth::engine
