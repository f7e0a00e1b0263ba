// An asynchronous HTTP/1.1 server on Boost.Beast: keep-alive, many
// connections on a few I/O threads, limits (body size, request timeout,
// concurrent requests), graceful shutdown. Knows nothing of KServe: a
// Handler answers each request (http_routes.h for the KServe API,
// metrics.h for Prometheus).
//
// Why Beast: an asynchronous server holds no thread per keep-alive
// connection, which a thread-per-connection library (cpp-httplib) does;
// the issue measured that at 0.35x nginx's requests/s at concurrency 32.
// Thread-safety: start/shutdown from one thread; handlers run on the I/O
// threads and must not block for long (the KServe routes move inference to
// a worker pool).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <boost/beast/http.hpp>

#include "core/status.h"

namespace polaris {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
// Sends the response (from any thread, exactly once).
using HttpRespond = std::function<void(HttpResponse)>;
// A request, how to answer it, and the client's "address:port" (for logs).
using HttpHandler = std::function<void(HttpRequest&&, HttpRespond, const std::string& peer)>;

struct HttpOptions {
  std::string address = "0.0.0.0";
  int port = 8000;  // 0: any free port (see port())
  int io_threads = 2;
  std::size_t max_body_bytes = std::size_t{512} << 20;  // larger bodies get 413
  std::chrono::seconds request_timeout{60};  // to receive one whole request, and idle keep-alive time
  int max_concurrent_requests = 1024;  // beyond: 503 at once
  std::string thread_name = "polaris-http";  // of the I/O threads
  // HTTPS when both are set (PEM files: the certificate chain and its
  // private key); TLS 1.2 or later.
  std::string tls_cert_file, tls_key_file;
  // With it, clients must present a certificate this CA signed (mutual TLS).
  std::string tls_client_ca_file;
};

class HttpServer {
 public:
  HttpServer(HttpOptions options, HttpHandler handler);
  ~HttpServer();
  // Binds and starts the I/O threads; Unavailable when the address cannot
  // be bound (port in use), InvalidArgument for unusable TLS files.
  Status start();
  // Stops accepting, waits up to `deadline` for requests in progress to be
  // answered, then closes every connection.
  void shutdown(std::chrono::milliseconds deadline);
  int port() const;
  int in_flight() const;  // requests received and not yet answered

  struct Impl;  // shared with the connections (http_server.cc)

 private:
  std::shared_ptr<Impl> impl_;
};

// Helpers for handlers.
HttpResponse make_response(const HttpRequest& request, boost::beast::http::status status, std::string body,
                           const std::string& content_type = "application/json");
// {"error": message}; bytes of the message that are not UTF-8 become U+FFFD.
std::string error_body(const std::string& message);
// error_body() with the status code for `status` (core/status.h's mapping).
HttpResponse make_error(const HttpRequest& request, const Status& status);

}  // namespace polaris
