#include "registry/server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "registry/access_log.h"
#include "registry/names.h"

namespace berth::registry {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

template <class Stream>
struct Conn;

struct Server::Impl {
  Registry& reg;
  Config cfg;
  asio::io_context ioc;
  // Disk work that can block for long (writing body chunks under dirty-page
  // throttling, fsync+rename at commit, Registry::handle's SQLite commits)
  // runs here, so I/O threads keep serving other connections meanwhile.
  asio::thread_pool disk;
  tcp::acceptor acceptor;
  std::unique_ptr<asio::ssl::context> ssl;
  AccessLog log;
  std::atomic<int> active{0};
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;

  Impl(Registry& r, Config c, int threads)
      : reg(r), cfg(std::move(c)), ioc(threads), disk(static_cast<size_t>(threads)), acceptor(ioc) {}

  // Runs f() on the disk pool; the coroutine resumes on its own strand.
  template <class F>
  awaitable<std::invoke_result_t<F>> blocking(F f) {
    using T = std::invoke_result_t<F>;
    co_return co_await asio::co_spawn(
        disk.get_executor(), [f = std::move(f)]() mutable -> awaitable<T> { co_return f(); }, use_awaitable);
  }

  awaitable<void> accept_loop();
  template <class Stream>
  awaitable<void> session(std::shared_ptr<Conn<Stream>> c);
  void maintenance();
};

// One connection: the stream plus a deadline a watchdog coroutine enforces by
// closing the socket, which fails whatever operation is pending.
template <class Stream>
struct Conn {
  Stream stream;
  asio::steady_timer timer;
  Clock::time_point deadline = Clock::time_point::max();
  bool done = false;
  std::string remote;
  std::string tls_user;

  template <class... A>
  explicit Conn(tcp::socket&& s, A&&... a) : stream(std::move(s), std::forward<A>(a)...), timer(stream.get_executor()) {}
  tcp::socket& socket() {
    if constexpr (std::is_same_v<Stream, tcp::socket>) return stream;
    else return stream.next_layer();
  }
  void arm(int64_t seconds) { set_deadline(Clock::now() + std::chrono::seconds(seconds)); }
  // While the connection waits for our own disk work, the client is not the one stalling.
  void hold() { set_deadline(Clock::time_point::max()); }
  void set_deadline(Clock::time_point d) {
    bool sooner = d < deadline;
    deadline = d;
    if (sooner) timer.cancel();  // the watchdog re-arms for the earlier deadline
  }
};

namespace {

template <class Stream>
awaitable<void> watchdog(std::shared_ptr<Conn<Stream>> c) {
  while (!c->done) {
    c->timer.expires_at(c->deadline);
    error_code ec;
    co_await c->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (c->done) break;
    if (Clock::now() >= c->deadline) {
      c->socket().close(ec);
      break;
    }
  }
}

std::string reason(int status) {
  return std::string(http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status))));
}

std::string format_head(const Response& r, bool close) {
  std::string h = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n";
  for (const auto& [k, v] : r.headers) {
    if (strcasecmp(k.c_str(), "Content-Length") == 0) continue;
    // Header values come from our handlers; still never let CR/LF through.
    if (v.find_first_of("\r\n") != std::string::npos) continue;
    h += k + ": " + v + "\r\n";
  }
  h += "Docker-Distribution-API-Version: registry/2.0\r\n";
  if (r.status != 204 && r.status != 304 && !(r.status >= 100 && r.status < 200))
    h += "Content-Length: " + std::to_string(r.content_length()) + "\r\n";
  if (close) h += "Connection: close\r\n";
  h += "\r\n";
  return h;
}

constexpr size_t kChunk = 1 << 20;

}  // namespace

template <class Stream>
awaitable<void> Server::Impl::session(std::shared_ptr<Conn<Stream>> c) {
  error_code ec;
  constexpr bool tls = !std::is_same_v<Stream, tcp::socket>;
  co_spawn(c->stream.get_executor(), watchdog(c), asio::detached);
  if constexpr (tls) {
    c->arm(cfg.idle_timeout);
    co_await c->stream.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      c->done = true;
      c->timer.cancel();
      co_return;
    }
    SSL* ssl = c->stream.native_handle();
    if (X509* cert = SSL_get1_peer_certificate(ssl)) {
      char cn[256] = {0};
      if (SSL_get_verify_result(ssl) == X509_V_OK &&
          X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
        c->tls_user = cn;
      X509_free(cert);
    }
  }
  beast::flat_buffer buf;
  std::unique_ptr<char[]> chunk;
  for (;;) {
    http::request_parser<http::buffer_body> p;
    p.header_limit(static_cast<std::uint32_t>(cfg.header_limit));
    // Blobs are unbounded here; sinks enforce their own limits. (Not boost::none:
    // Beast 1.74 compares the length against the optional and rejects everything.)
    p.body_limit(std::numeric_limits<std::uint64_t>::max());
    c->arm(cfg.idle_timeout);
    co_await http::async_read_header(c->stream, buf, p, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      // Syntax errors get a 400 (oversized headers a 431); a client that simply
      // went away (end_of_stream, partial_message, timeouts) gets nothing.
      if (ec == http::error::header_limit ||
          (ec.category() == make_error_code(http::error::bad_target).category() &&
           ec != http::error::end_of_stream && ec != http::error::partial_message)) {
        Response r = api_error(ec == http::error::header_limit ? 431 : 400, ApiCode::UNSUPPORTED, ec.message());
        log.write({c->remote, "", "", "", r.status, r.body.size(), 0});
        std::string head = format_head(r, true);
        c->arm(cfg.read_timeout);
        co_await asio::async_write(c->stream, std::array{asio::buffer(head), asio::buffer(r.body)},
                                   asio::redirect_error(use_awaitable, ec));
      }
      break;
    }
    auto t0 = Clock::now();
    const auto& h = p.get();
    Request req;
    req.method = std::string(h.method_string());
    req.target = std::string(h.target());
    req.remote = c->remote;
    req.tls = tls;
    req.tls_user = c->tls_user;
    std::string_view target = req.target;
    auto qpos = target.find('?');
    bool bad = !percent_decode(target.substr(0, qpos), &req.path) ||
               (qpos != std::string_view::npos && !parse_query(target.substr(qpos + 1), &req.query));
    for (const auto& f : h) {
      std::string name(f.name_string());
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.host = std::string(req.header("host"));
    if (auto cl = p.content_length()) req.content_length = *cl;
    bool chunked = p.chunked();
    bool has_body = chunked || (req.content_length && *req.content_length > 0);
    bool expect_continue = strcasecmp(std::string(req.header("expect")).c_str(), "100-continue") == 0;

    Dispatch d;
    if (bad) d.response = api_error(400, ApiCode::UNSUPPORTED, "malformed request target");
    else {
      c->hold();
      d = co_await blocking([&] { return reg.handle(req); });
    }

    Response resp;
    bool close = !h.keep_alive();
    if (d.sink) {
      if (expect_continue) {
        static const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
        c->arm(cfg.read_timeout);
        co_await asio::async_write(c->stream, asio::buffer(cont), asio::redirect_error(use_awaitable, ec));
        if (ec) break;
      }
      if (!chunk) chunk.reset(new char[kChunk]);
      std::optional<Error> failed;
      bool read_error = false;
      if (!chunked) {
        uint64_t remaining = req.content_length.value_or(0);
        // Body bytes that arrived with the header.
        size_t take = static_cast<size_t>(std::min<uint64_t>(buf.size(), remaining));
        if (take) {
          const char* p0 = static_cast<const char*>(buf.data().data());
          c->hold();
          if (auto s = co_await blocking([&] { return d.sink->write(p0, take); }); !s) failed = s.error();
          buf.consume(take);
          remaining -= take;
        }
        while (remaining > 0 && !failed) {
          c->arm(cfg.read_timeout);
          size_t n = co_await c->stream.async_read_some(
              asio::buffer(chunk.get(), static_cast<size_t>(std::min<uint64_t>(kChunk, remaining))),
              asio::redirect_error(use_awaitable, ec));
          if (ec) {
            read_error = true;
            failed = Error(Errc::network, "reading request body: " + ec.message());
            break;
          }
          c->hold();
          if (auto s = co_await blocking([&] { return d.sink->write(chunk.get(), n); }); !s) failed = s.error();
          remaining -= n;
        }
      } else {
        while (!p.is_done() && !failed) {
          p.get().body().data = chunk.get();
          p.get().body().size = kChunk;
          c->arm(cfg.read_timeout);
          co_await http::async_read(c->stream, buf, p, asio::redirect_error(use_awaitable, ec));
          if (ec == http::error::need_buffer) ec = {};
          if (ec) {
            read_error = true;
            failed = Error(Errc::network, "reading request body: " + ec.message());
            break;
          }
          size_t n = kChunk - p.get().body().size;
          if (n) {
            c->hold();
            if (auto s = co_await blocking([&] { return d.sink->write(chunk.get(), n); }); !s) failed = s.error();
          }
        }
      }
      c->hold();
      if (failed) {
        resp = co_await blocking([&] { return d.sink->fail(*failed); });
        close = true;  // the rest of the body was not consumed
      } else {
        resp = co_await blocking([&] { return d.sink->finish(); });
      }
      d.sink.reset();
      if (read_error) {
        // The client is gone or too slow; there is nobody to answer.
        log.write({c->remote, resp.user, req.method, req.target, 499, 0,
                   std::chrono::duration<double, std::milli>(Clock::now() - t0).count()});
        break;
      }
    } else {
      resp = std::move(d.response);
      if (has_body) {
        // Small unexpected bodies are drained to keep the connection; anything else closes it.
        uint64_t len = req.content_length.value_or(UINT64_MAX);
        if (chunked || expect_continue || len > 65536) {
          close = true;
        } else {
          while (buf.size() < len) {
            c->arm(cfg.read_timeout);
            size_t n = co_await c->stream.async_read_some(buf.prepare(static_cast<size_t>(len - buf.size())),
                                                          asio::redirect_error(use_awaitable, ec));
            if (ec) break;
            buf.commit(n);
          }
          if (ec) break;
          buf.consume(static_cast<size_t>(len));
        }
      }
    }
    close = close || resp.close;
    if (req.method == "HEAD" && !resp.head && !resp.file.valid()) {
      resp.head = true;
      resp.head_length = resp.body.size();
    }
    std::string head = format_head(resp, close);
    uint64_t sent = 0;
    c->arm(cfg.read_timeout);
    if (resp.head || resp.file.valid()) {
      co_await asio::async_write(c->stream, asio::buffer(head), asio::redirect_error(use_awaitable, ec));
    } else {
      co_await asio::async_write(c->stream, std::array{asio::buffer(head), asio::buffer(resp.body)},
                                 asio::redirect_error(use_awaitable, ec));
      if (!ec) sent = resp.body.size();
    }
    if (!ec && resp.file.valid() && !resp.head) {
      off_t off = static_cast<off_t>(resp.file_offset);
      uint64_t remaining = resp.file_length;
      // Large buffered reads rather than sendfile(2): measured faster for many concurrent
      // GETs on this host (sendfile's page-sized pieces cost more than one 1 MiB copy).
      if (!chunk) chunk.reset(new char[kChunk]);
      while (remaining > 0 && !ec) {
        ssize_t n = ::pread(resp.file.get(), chunk.get(), static_cast<size_t>(std::min<uint64_t>(remaining, kChunk)), off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          ec = asio::error::broken_pipe;
          break;
        }
        c->arm(cfg.read_timeout);
        co_await asio::async_write(c->stream, asio::buffer(chunk.get(), static_cast<size_t>(n)),
                                   asio::redirect_error(use_awaitable, ec));
        off += n;
        remaining -= static_cast<uint64_t>(n);
        if (!ec) sent += static_cast<uint64_t>(n);
      }
    }
    log.write({c->remote, resp.user, req.method, req.target, resp.status, sent,
               std::chrono::duration<double, std::milli>(Clock::now() - t0).count()});
    if (ec || close) break;
  }
  if constexpr (tls) {
    c->arm(5);
    co_await c->stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
  }
  c->socket().shutdown(tcp::socket::shutdown_both, ec);
  c->socket().close(ec);
  c->done = true;
  c->timer.cancel();
}

awaitable<void> Server::Impl::accept_loop() {
  for (;;) {
    error_code ec;
    tcp::socket sock = co_await acceptor.async_accept(asio::make_strand(ioc), asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      continue;  // EMFILE and friends: keep serving the connections we have
    }
    std::string remote;
    auto ep = sock.remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    if (active.load() >= cfg.max_connections) {
      // Over the limit: a short answer, written without waiting for the client.
      Response r = api_error(503, ApiCode::TOOMANYREQUESTS, "too many connections");
      std::string msg = format_head(r, true) + r.body;
      sock.non_blocking(true, ec);
      (void)!::write(sock.native_handle(), msg.data(), msg.size());
      sock.close(ec);
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    auto exec = sock.get_executor();
    active++;
    if (ssl) {
      auto c = std::make_shared<Conn<asio::ssl::stream<tcp::socket>>>(std::move(sock), *ssl);
      c->remote = remote;
      co_spawn(exec, session(c), [this](std::exception_ptr) { active--; });
    } else {
      auto c = std::make_shared<Conn<tcp::socket>>(std::move(sock));
      c->remote = remote;
      co_spawn(exec, session(c), [this](std::exception_ptr) { active--; });
    }
  }
}

void Server::Impl::maintenance() {
  int64_t period = cfg.gc_interval > 0 ? std::min<int64_t>(cfg.gc_interval, 3600) : 3600;
  auto next_gc = Clock::now() + std::chrono::seconds(cfg.gc_interval);
  std::unique_lock lk(mu);
  while (!stopping) {
    if (cv.wait_for(lk, std::chrono::seconds(period), [&] { return stopping; })) break;
    lk.unlock();
    if (auto r = reg.expire_uploads(); !r) fprintf(stderr, "berth-registry: expiring uploads: %s\n", r.error().str().c_str());
    if (cfg.gc_interval > 0 && Clock::now() >= next_gc) {
      if (auto g = reg.gc(cfg.gc_grace); !g) fprintf(stderr, "berth-registry: gc: %s\n", g.error().str().c_str());
      next_gc = Clock::now() + std::chrono::seconds(cfg.gc_interval);
    }
    lk.lock();
  }
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::create(Registry& reg, const Config& cfg) {
  auto impl = std::make_unique<Impl>(reg, cfg, cfg.threads);
  TRY_ASSIGN(impl->log, AccessLog::open(cfg.access_log));
  auto colon = cfg.addr.rfind(':');
  if (colon == std::string::npos) return Error(Errc::invalid_argument, "--addr " + cfg.addr + ": expected HOST:PORT");
  std::string host = cfg.addr.substr(0, colon), port_s = cfg.addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return Error(Errc::invalid_argument, "--addr " + cfg.addr + ": " + ec.message());
  unsigned long port = 0;
  try {
    port = std::stoul(port_s);
  } catch (...) {
    port = 70000;
  }
  if (port > 65535) return Error(Errc::invalid_argument, "--addr " + cfg.addr + ": bad port");
  tcp::endpoint ep(addr, static_cast<uint16_t>(port));
  auto& a = impl->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error(Errc::io, "listen on " + cfg.addr + ": " + ec.message());

  if (!cfg.tls_cert.empty() || !cfg.tls_key.empty()) {
    if (cfg.tls_cert.empty() || cfg.tls_key.empty())
      return Error(Errc::invalid_argument, "TLS needs both --tls-cert and --tls-key");
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                     asio::ssl::context::single_dh_use);
    ctx->use_certificate_chain_file(cfg.tls_cert, ec);
    if (ec) return Error(Errc::invalid_input, "--tls-cert " + cfg.tls_cert + ": " + ec.message());
    ctx->use_private_key_file(cfg.tls_key, asio::ssl::context::pem, ec);
    if (ec) return Error(Errc::invalid_input, "--tls-key " + cfg.tls_key + ": " + ec.message());
    if (!cfg.tls_client_ca.empty()) {
      ctx->load_verify_file(cfg.tls_client_ca, ec);
      if (ec) return Error(Errc::invalid_input, "--tls-client-ca " + cfg.tls_client_ca + ": " + ec.message());
      // Client certificates are optional (password users still work); a presented one must verify.
      ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    }
    impl->ssl = std::move(ctx);
  } else if (!cfg.tls_client_ca.empty()) {
    return Error(Errc::invalid_argument, "--tls-client-ca needs --tls-cert and --tls-key");
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const {
  error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void Server::stop() {
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->ioc.stop();
}

Status Server::run(bool handle_signals) {
  Impl& im = *impl_;
  try {
    co_spawn(im.ioc, im.accept_loop(), asio::detached);
    std::unique_ptr<asio::signal_set> sigs;
    if (handle_signals) {
      sigs = std::make_unique<asio::signal_set>(im.ioc, SIGINT, SIGTERM);
      sigs->async_wait([this](const error_code& ec, int) {
        if (!ec) stop();
      });
    }
    std::thread maint([&] { im.maintenance(); });
    std::vector<std::thread> pool;
    for (int i = 1; i < im.cfg.threads; ++i) pool.emplace_back([&] { im.ioc.run(); });
    im.ioc.run();
    stop();
    for (auto& t : pool) t.join();
    maint.join();
  } catch (const std::exception& e) {
    return Error(Errc::internal, std::string("registry server: ") + e.what());
  }
  return Status{};
}

}  // namespace berth::registry
