// berth/transport: libcurl, loaded with dlopen on the first HTTP request.
//
// Why: linking libcurl makes the dynamic loader map and relocate ~26 more
// libraries (gnutls, krb5, ldap, ssh2, nghttp2, ...) at every start of
// `berth`, 3-6 ms per command, while only push/pull/copy/login and ADD <url>
// speak HTTP (docs/transport.md has the numbers).
//
// Promises:
//  - curl_api() loads libcurl.so.4 and runs curl_global_init once per
//    process (thread-safe); later calls return the same table, or the same
//    one-line error when the library is missing or lacks a symbol.
//  - The library stays loaded until exit (easy handles may outlive callers).
//  - <curl/curl.h> is still used for types and constants only: the code
//    compiles against the libcurl-dev headers but needs libcurl4 at run time
//    only when it makes a request.
#pragma once

#include <curl/curl.h>

#include "base/error.h"

namespace berth::transport {

// Exactly the functions berth calls. setopt/getinfo keep libcurl's variadic
// signatures, so arguments are passed the way libcurl reads them (longs as
// long, curl_off_t as curl_off_t: the caller must get the types right, as the
// compiler's typecheck macros do not apply to these pointers).
struct CurlApi {
  CURLcode (*global_init)(long flags);
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  CURLcode (*easy_perform)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  CURLSH* (*share_init)();
  CURLSHcode (*share_setopt)(CURLSH*, CURLSHoption, ...);
  CURLSHcode (*share_cleanup)(CURLSH*);
  struct curl_slist* (*slist_append)(struct curl_slist*, const char*);
  void (*slist_free_all)(struct curl_slist*);
};

// The process-wide table (loaded and initialised on first use).
Result<const CurlApi*> curl_api();

// Loads `soname` and resolves the table without curl_global_init and without
// caching; a separate entry point so tests can check the missing-library error.
Result<CurlApi> load_curl_api(const char* soname);

}  // namespace berth::transport
