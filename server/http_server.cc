#include "server/http_server.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/quote.h"
#include "core/thread_name.h"
#include "server/http_session.h"

namespace polaris {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using http_detail::PlainStream;
using http_detail::Session;
using http_detail::Socket;
using http_detail::TlsStream;

namespace {

void accept(const std::shared_ptr<HttpServer::Impl>& server) {
  server->acceptor.async_accept(
      net::make_strand(server->ioc.get_executor()), [weak = std::weak_ptr(server)](beast::error_code ec, Socket socket) {
        auto s = weak.lock();
        if (!s || !s->acceptor.is_open()) return;
        if (!ec) {
          beast::error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);  // no 40 ms Nagle stalls on small responses
          if (s->tls)
            std::make_shared<Session<TlsStream>>(std::move(socket), weak, &*s->tls)->start();
          else
            std::make_shared<Session<PlainStream>>(std::move(socket), weak, nullptr)->start();
        }
        accept(s);
      });
}

}  // namespace

HttpServer::HttpServer(HttpOptions options, HttpHandler handler)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { shutdown(std::chrono::milliseconds(0)); }

namespace {

// The server's TLS context from PEM files: TLS 1.2 and later only; with a
// client CA, clients must present a certificate it signed (mutual TLS).
Result<ssl::context> tls_context(const HttpOptions& o) {
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  beast::error_code ec;
  ctx.use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec) return InvalidArgument("cannot use the TLS certificate " + o.tls_cert_file + ": " + ec.message());
  ctx.use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
  if (ec) return InvalidArgument("cannot use the TLS key " + o.tls_key_file + ": " + ec.message());
  if (!o.tls_client_ca_file.empty()) {
    ctx.load_verify_file(o.tls_client_ca_file, ec);
    if (ec) return InvalidArgument("cannot use the client CA " + o.tls_client_ca_file + ": " + ec.message());
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

}  // namespace

Status HttpServer::start() {
  if (!impl_->options.tls_cert_file.empty() || !impl_->options.tls_key_file.empty()) {
    if (impl_->options.tls_cert_file.empty() || impl_->options.tls_key_file.empty())
      return InvalidArgument("TLS needs both a certificate and a key file");
    POLARIS_ASSIGN_OR_RETURN(ssl::context ctx, tls_context(impl_->options));
    impl_->tls.emplace(std::move(ctx));
  }
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
