#include "server/http_server.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/quote.h"
#include "core/thread_name.h"

namespace polaris {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpServer::Impl {
  HttpOptions options;
  HttpHandler handler;
  net::io_context ioc;
  // On a strand of its own: the accept loop re-arms from its completion
  // handler on an I/O thread while shutdown closes it; unserialised, the two
  // raced inside Asio's reactor and crashed the process at SIGTERM (seen
  // about once in 20 shutdowns under load).
  tcp::acceptor acceptor{net::make_strand(ioc)};
  std::vector<std::thread> threads;
  std::atomic<int> in_flight{0};
  std::atomic<bool> draining{false};
  std::mutex mu;
  std::condition_variable idle;  // in_flight reached 0 while draining
  int bound_port = 0;

  Impl(HttpOptions o, HttpHandler h) : options(std::move(o)), handler(std::move(h)), ioc(options.io_threads) {}

  void request_done() {
    if (in_flight.fetch_sub(1) == 1 && draining) {
      std::lock_guard lock(mu);
      idle.notify_all();
    }
  }
};

namespace {

// A connection's strand and stream as concrete types: Beast's default
// tcp_stream erases the executor (any_io_executor), whose work guards and
// wrapped handlers cost heap allocations on every operation (malloc probes
// on a keep-alive `add` request: 120 per request with it, 96 without) and
// an indirect call on every dispatch.
using Strand = net::strand<net::io_context::executor_type>;
using Stream = beast::basic_stream<tcp, Strand>;
using Socket = tcp::socket::rebind_executor<Strand>::other;

// One connection: read a request, hand it to the handler, write the
// response, repeat while keep-alive. Runs on its own strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket socket, std::weak_ptr<HttpServer::Impl> server)
      : stream_(std::move(socket)), server_(std::move(server)) {}

  void start() { read(); }

 private:
  void read() {
    auto server = server_.lock();
    if (!server) return;
    parser_.emplace();
    parser_->body_limit(server->options.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(server->options.request_timeout);
    // Beast reads at most max(512, free capacity) bytes per call: with an
    // empty buffer every read is 512 bytes, which took 7 ms (1200 reads,
    // each an epoll round trip) to receive a 600 KB tensor. A small
    // reserve fits a whole small request in one read; a large body gets
    // 64 KiB reads (Beast's cap) and the buffer shrinks again afterwards.
    if (buffer_.capacity() > kSmallReadBuffer) buffer_.shrink_to_fit();
    buffer_.reserve(kSmallReadBuffer);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_read(ec);
      const auto length = self->parser_->content_length();
      if (length && *length > kSmallReadBuffer) self->buffer_.reserve(kLargeReadBuffer);
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec, std::size_t) { self->on_read(ec); });
    });
  }

  void on_read(beast::error_code ec) {
    auto server = server_.lock();
    if (!server) return;
    if (ec == http::error::end_of_stream) return close();
    if (ec == http::error::body_limit) {
      HttpRequest head;  // the parser holds only the header now
      head.version(11);
      return write(make_error(head, InvalidArgument("the request body is larger than the server's limit of " +
                                                    std::to_string(server->options.max_body_bytes) + " bytes")),
                   false, /*close_after=*/true, http::status::payload_too_large);
    }
    if (ec == http::error::header_limit) {
      HttpRequest head;
      head.version(11);
      return write(make_error(head, InvalidArgument("the request's headers are larger than the server's limit of " +
                                                    std::to_string(kHeaderLimit) + " bytes")),
                   false, /*close_after=*/true, http::status::request_header_fields_too_large);
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category() && ec != http::error::partial_message) {
      // Malformed HTTP (a bad request line, header or chunk): say so, as
      // nginx does, then close, since the stream cannot be resynchronised.
      HttpRequest head;
      head.version(11);
      return write(make_error(head, InvalidArgument("malformed HTTP request: " + ec.message())), false,
                   /*close_after=*/true, http::status::bad_request);
    }
    if (ec) return;  // timeout, reset, a request cut off: drop the connection
    HttpRequest request = parser_->release();
    if (server->draining) return write(make_error(request, Unavailable("the server is shutting down")), false, true);
    if (server->in_flight.fetch_add(1) >= server->options.max_concurrent_requests) {
      server->in_flight.fetch_sub(1);
      return write(make_error(request, Unavailable("too many concurrent requests; try again")), false,
                   !request.keep_alive());
    }
    stream_.expires_never();  // the handler may take a while (inference)
    const bool keep_alive = request.keep_alive();
    server->handler(std::move(request), [self = shared_from_this(), keep_alive](HttpResponse response) {
      auto executor = self->stream_.get_executor();
      // dispatch: runs at once when the handler answered on this strand.
      net::dispatch(executor, [self, keep_alive, response = std::move(response)]() mutable {
        self->write(std::move(response), true, !keep_alive);
      });
    });
  }

  void write(HttpResponse response, bool counted, bool close_after,
             std::optional<http::status> status = std::nullopt) {
    auto server = server_.lock();
    if (status) response.result(*status);
    if (server && server->draining) close_after = true;
    response.keep_alive(!close_after);
    response.prepare_payload();
    auto message = std::make_shared<HttpResponse>(std::move(response));
    stream_.expires_after(std::chrono::seconds(60));
    http::async_write(stream_, *message,
                      [self = shared_from_this(), message, counted, close_after](beast::error_code ec, std::size_t) {
                        if (counted)
                          if (auto s = self->server_.lock()) s->request_done();
                        if (ec || close_after) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(Socket::shutdown_send, ignored);
  }

  static constexpr std::size_t kHeaderLimit = 64 * 1024;  // request line and headers
  static constexpr std::size_t kSmallReadBuffer = 4 * 1024;
  static constexpr std::size_t kLargeReadBuffer = 64 * 1024;

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::weak_ptr<HttpServer::Impl> server_;
};

void accept(const std::shared_ptr<HttpServer::Impl>& server) {
  server->acceptor.async_accept(
      net::make_strand(server->ioc.get_executor()), [weak = std::weak_ptr(server)](beast::error_code ec, Socket socket) {
        auto s = weak.lock();
        if (!s || !s->acceptor.is_open()) return;
        if (!ec) {
          beast::error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);  // no 40 ms Nagle stalls on small responses
          std::make_shared<Session>(std::move(socket), weak)->start();
        }
        accept(s);
      });
}

}  // namespace

HttpServer::HttpServer(HttpOptions options, HttpHandler handler)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { shutdown(std::chrono::milliseconds(0)); }

Status HttpServer::start() {
  beast::error_code ec;
  const auto address = net::ip::make_address(impl_->options.address, ec);
  if (ec) return InvalidArgument("bad bind address '" + impl_->options.address + "': " + ec.message());
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(impl_->options.port));
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return Unavailable("cannot listen on " + impl_->options.address + ":" + std::to_string(impl_->options.port) +
                       ": " + ec.message());
  impl_->bound_port = acceptor.local_endpoint().port();
  accept(impl_);
  for (int i = 0; i < std::max(impl_->options.io_threads, 1); ++i)
    impl_->threads.emplace_back([impl = impl_] {
      name_this_thread(impl->options.thread_name.c_str());
      impl->ioc.run();
    });
  return Status::Ok();
}

void HttpServer::shutdown(std::chrono::milliseconds deadline) {
  if (impl_->threads.empty()) return;
  // New requests now get 503 and their connections close, while the
  // acceptor stays open: a client that connected just before the signal
  // gets an answer, not a reset. Requests already received run to the end.
  impl_->draining = true;
  {
    std::unique_lock lock(impl_->mu);
    impl_->idle.wait_for(lock, deadline, [&] { return impl_->in_flight.load() == 0; });
  }
  if (impl_->in_flight.load() > 0)
    spdlog::warn("HTTP shutdown: {} requests still in progress after the deadline", impl_->in_flight.load());
  net::post(impl_->acceptor.get_executor(), [impl = impl_] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  // A moment for the 503s of connections accepted during the drain.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

int HttpServer::port() const { return impl_->bound_port; }
int HttpServer::in_flight() const { return impl_->in_flight.load(); }

HttpResponse make_response(const HttpRequest& request, http::status status, std::string body,
                           const std::string& content_type) {
  HttpResponse response{status, request.version()};
  response.set(http::field::server, "polaris");
  if (!body.empty()) response.set(http::field::content_type, content_type);
  response.body() = std::move(body);
  return response;
}

std::string error_body(const std::string& message) {
  // Messages quote the request (its path, names in its body), which may not
  // be UTF-8: replace such bytes, as a strict dump throws and would end the
  // process from an I/O thread.
  // Clipped: a message can quote a client string of any size.
  return nlohmann::json{{"error", clip_message(message)}}.dump(-1, ' ', false,
                                                               nlohmann::json::error_handler_t::replace);
}

HttpResponse make_error(const HttpRequest& request, const Status& status) {
  return make_response(request, static_cast<http::status>(http_status(status.code())),
                       error_body(status.message()));
}

}  // namespace polaris
