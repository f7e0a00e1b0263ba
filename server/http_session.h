// The inside of HttpServer (http_server.h): its shared state and one
// connection. Included by http_server.cc only.
//
// A connection reads a request, hands it to the handler, writes the
// response and repeats while keep-alive, on its own strand. It is a
// template over the stream: plain TCP, or TLS over it (Asio SSL), so the
// plain path pays nothing for TLS.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include "server/http_server.h"

namespace polaris {

namespace http_detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// A connection's strand and stream as concrete types: Beast's default
// tcp_stream erases the executor (any_io_executor), whose work guards and
// wrapped handlers cost heap allocations on every operation (malloc probes
// on a keep-alive `add` request: 120 per request with it, 96 without) and
// an indirect call on every dispatch.
using Strand = net::strand<net::io_context::executor_type>;
using PlainStream = beast::basic_stream<tcp, Strand>;
using TlsStream = beast::ssl_stream<PlainStream>;
using Socket = tcp::socket::rebind_executor<Strand>::other;

}  // namespace http_detail

struct HttpServer::Impl {
  HttpOptions options;
  HttpHandler handler;
  boost::asio::io_context ioc;
  // On a strand of its own: the accept loop re-arms from its completion
  // handler on an I/O thread while shutdown closes it; unserialised, the two
  // raced inside Asio's reactor and crashed the process at SIGTERM (seen
  // about once in 20 shutdowns under load).
  http_detail::tcp::acceptor acceptor{boost::asio::make_strand(ioc)};
  std::optional<http_detail::ssl::context> tls;  // set when serving HTTPS
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

namespace http_detail {

template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(Socket socket, std::weak_ptr<HttpServer::Impl> server, ssl::context* tls)
      : stream_(make_stream(std::move(socket), tls)), server_(std::move(server)) {
    beast::error_code ec;
    const auto remote = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) peer_ = remote.address().to_string() + ":" + std::to_string(remote.port());
  }

  void start() {
    if constexpr (kTls) {
      auto server = server_.lock();
      if (!server) return;
      beast::get_lowest_layer(stream_).expires_after(server->options.request_timeout);
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return;  // not TLS, a refused certificate, a timeout: nothing to answer on
        self->read();
      });
    } else {
      read();
    }
  }

 private:
  static Stream make_stream(Socket socket, ssl::context* tls) {
    if constexpr (kTls)
      return Stream(PlainStream(std::move(socket)), *tls);
    else
      return Stream(std::move(socket));
  }

  auto& lowest() { return beast::get_lowest_layer(stream_); }

  void read() {
    auto server = server_.lock();
    if (!server) return;
    parser_.emplace();
    parser_->body_limit(server->options.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    lowest().expires_after(server->options.request_timeout);
    // Beast reads at most max(512, free capacity) bytes per call: with an
    // empty buffer every read is 512 bytes, which took 7 ms (1200 reads,
    // each an epoll round trip) to receive a 600 KB tensor. A small
    // reserve fits a whole small request in one read; a large body gets
    // 64 KiB reads (Beast's cap) and the buffer shrinks again afterwards.
    if (buffer_.capacity() > kSmallReadBuffer) buffer_.shrink_to_fit();
    buffer_.reserve(kSmallReadBuffer);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->on_read(ec);
                              const auto length = self->parser_->content_length();
                              if (length && *length > kSmallReadBuffer) self->buffer_.reserve(kLargeReadBuffer);
                              http::async_read(self->stream_, self->buffer_, *self->parser_,
                                               [self](beast::error_code ec, std::size_t) { self->on_read(ec); });
                            });
  }

  // An answer the connection gives before any handler sees the request.
  void refuse(http::status status, const Status& why) {
    HttpRequest head;  // the parser holds only the header, if that
    head.version(11);
    write(make_error(head, why), false, /*close_after=*/true, status);
  }

  void on_read(beast::error_code ec) {
    auto server = server_.lock();
    if (!server) return;
    if (ec == http::error::end_of_stream) return close();
    if (ec == http::error::body_limit)
      return refuse(http::status::payload_too_large,
                    InvalidArgument("the request body is larger than the server's limit of " +
                                    std::to_string(server->options.max_body_bytes) + " bytes"));
    if (ec == http::error::header_limit)
      return refuse(http::status::request_header_fields_too_large,
                    InvalidArgument("the request's headers are larger than the server's limit of " +
                                    std::to_string(kHeaderLimit) + " bytes"));
    // Malformed HTTP (a bad request line, header or chunk): say so, as
    // nginx does, then close, since the stream cannot be resynchronised.
    if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::partial_message)
      return refuse(http::status::bad_request, InvalidArgument("malformed HTTP request: " + ec.message()));
    if (ec) return;  // timeout, reset, a request cut off: drop the connection
    HttpRequest request = parser_->release();
    if (server->draining) return write(make_error(request, Unavailable("the server is shutting down")), false, true);
    if (server->in_flight.fetch_add(1) >= server->options.max_concurrent_requests) {
      server->in_flight.fetch_sub(1);
      return write(make_error(request, Unavailable("too many concurrent requests; try again")), false,
                   !request.keep_alive());
    }
    lowest().expires_never();  // the handler may take a while (inference)
    const bool keep_alive = request.keep_alive();
    server->handler(
        std::move(request),
        [self = this->shared_from_this(), keep_alive](HttpResponse response) {
          auto executor = self->lowest().get_executor();
          // dispatch: runs at once when the handler answered on this strand.
          net::dispatch(executor, [self, keep_alive, response = std::move(response)]() mutable {
            self->write(std::move(response), true, !keep_alive);
          });
        },
        peer_);
  }

  void write(HttpResponse response, bool counted, bool close_after,
             std::optional<http::status> status = std::nullopt) {
    auto server = server_.lock();
    if (status) response.result(*status);
    if (server && server->draining) close_after = true;
    response.keep_alive(!close_after);
    response.prepare_payload();
    auto message = std::make_shared<HttpResponse>(std::move(response));
    lowest().expires_after(std::chrono::seconds(60));
    http::async_write(stream_, *message,
                      [self = this->shared_from_this(), message, counted, close_after](beast::error_code ec,
                                                                                       std::size_t) {
                        if (counted)
                          if (auto s = self->server_.lock()) s->request_done();
                        if (ec || close_after) return self->close();
                        self->read();
                      });
  }

  void close() {
    if constexpr (kTls) {
      // TLS's close_notify first, then the socket, as a TLS client expects.
      lowest().expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->close_socket(); });
    } else {
      close_socket();
    }
  }

  void close_socket() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  static constexpr std::size_t kHeaderLimit = 64 * 1024;  // request line and headers
  static constexpr std::size_t kSmallReadBuffer = 4 * 1024;
  static constexpr std::size_t kLargeReadBuffer = 64 * 1024;

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::weak_ptr<HttpServer::Impl> server_;
  std::string peer_;  // "address:port" of the client, for the handler's logs
};

}  // namespace http_detail
}  // namespace polaris
