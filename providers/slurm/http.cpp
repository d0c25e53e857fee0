#include "providers/slurm/http.h"

#include <curl/curl.h>

#include <mutex>

namespace kiln::slurm {

namespace {

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

class CurlHttpImpl : public Http {
 public:
  CurlHttpImpl() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  HttpResponse Send(const HttpRequest& req) override {
    HttpResponse resp;
    CURL* curl = curl_easy_init();
    if (!curl) {
      resp.error = "cannot initialise libcurl";
      return resp;
    }
    curl_slist* headers = nullptr;
    for (const auto& [k, v] : req.headers) headers = curl_slist_append(headers, (k + ": " + v).c_str());
    curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout_ms));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout_ms));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp.body);
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      resp.status = static_cast<int>(status);
    } else {
      // curl's message names the host and port, never the headers.
      resp.error = curl_easy_strerror(rc);
      resp.body.clear();
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return resp;
  }
};

}  // namespace

std::shared_ptr<Http> CurlHttp() { return std::make_shared<CurlHttpImpl>(); }

}  // namespace kiln::slurm
