#include "transport/curl_api.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace berth::transport {

namespace {

// dlsym returns void*; the table's pointer types are the documented libcurl
// prototypes, so the cast is the one POSIX dlsym requires.
template <class Fn>
Status resolve(void* lib, const char* soname, const char* name, Fn& out) {
  ::dlerror();  // clear a stale error so a null result is diagnosed correctly
  void* p = ::dlsym(lib, name);
  if (!p) {
    const char* why = ::dlerror();
    return Error(Errc::unsupported, std::string(soname) + " lacks " + name + " (needed for HTTP): " +
                                        (why ? why : "symbol is null"));
  }
  out = reinterpret_cast<Fn>(p);
  return Status{};
}

}  // namespace

Result<CurlApi> load_curl_api(const char* soname) {
  // RTLD_LOCAL: curl's symbols and those of its ~26 dependencies stay out of
  // the global scope, so nothing loaded later binds to them by accident.
  void* lib = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = ::dlerror();
    return Error(Errc::unsupported, std::string(soname) + " could not be loaded (needed for HTTP): " +
                                        (why ? why : "unknown dlopen error"));
  }
  CurlApi a{};
  Status st;
  auto need = [&](const char* name, auto& fn) {
    if (st.ok()) st = resolve(lib, soname, name, fn);
  };
  need("curl_global_init", a.global_init);
  need("curl_easy_init", a.easy_init);
  need("curl_easy_cleanup", a.easy_cleanup);
  need("curl_easy_reset", a.easy_reset);
  need("curl_easy_setopt", a.easy_setopt);
  need("curl_easy_getinfo", a.easy_getinfo);
  need("curl_easy_perform", a.easy_perform);
  need("curl_easy_strerror", a.easy_strerror);
  need("curl_share_init", a.share_init);
  need("curl_share_setopt", a.share_setopt);
  need("curl_share_cleanup", a.share_cleanup);
  need("curl_slist_append", a.slist_append);
  need("curl_slist_free_all", a.slist_free_all);
  if (!st.ok()) {
    ::dlclose(lib);
    return std::move(st).error();
  }
  // Never closed: pooled easy handles and curl's global state live until exit.
  return a;
}

Result<const CurlApi*> curl_api() {
  static std::once_flag once;
  static CurlApi api{};
  static Error err;
  static bool loaded = false;
  std::call_once(once, [] {
    auto r = load_curl_api("libcurl.so.4");
    if (!r.ok()) {
      err = std::move(r).error();
      return;
    }
    // curl_global_init is not thread-safe; call_once serialises it.
    CURLcode rc = r->global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
      err = Error(Errc::internal, std::string("libcurl: curl_global_init failed: ") + r->easy_strerror(rc));
      return;
    }
    api = *r;
    loaded = true;
  });
  if (!loaded) return err;
  return &api;
}

}  // namespace berth::transport
