// Datastores: directories (kept while they hold data unless force_destroy).
#include "providers/local/provider_impl.h"

namespace kiln::local {

std::string LocalProvider::DatastoreDir(const std::string& address, const json& path) {
  std::string p = path.is_string() ? path.get<std::string>() : (root_ / "datastores" / Slug(address)).string();
  return fs::absolute(p).lexically_normal().string();
}

ApplyResponse LocalProvider::ApplyDatastore(const ApplyRequest& req) {
  ApplyResponse resp;
  std::string dir = DatastoreDir(req.address, req.config.value("path", json()));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    resp.diagnostics.push_back(Err("cannot create " + dir + ": " + ec.message(), {"path"}));
    return resp;
  }
  json state = req.config;
  state["id"] = dir;
  state["uri"] = "file://" + dir;
  WriteText(fs::path(dir) / ".kiln-address", req.address + "\n");
  if (!WriteText(root_ / "datastores" / (Slug(req.address) + ".json"),
                 json({{"address", req.address}, {"path", dir}, {"state", state}}).dump(2))) {
    resp.diagnostics.push_back(Err("cannot write the record of " + req.address + " under " + root_.string() +
                                   " (is the disk full?)"));
    return resp;
  }
  resp.state = state;
  return resp;
}

ReadResponse LocalProvider::ReadDatastore(const ReadRequest& req) {
  ReadResponse resp;
  json r = ReadJson(root_ / "datastores" / (Slug(req.address) + ".json"));
  std::string path = req.state.is_object() ? Str(req.state, "id") : Str(r, "path");
  std::error_code ec;
  if (path.empty() || !fs::is_directory(path, ec)) return resp;
  resp.state = req.state.is_object() ? req.state : r.value("state", json::object());
  return resp;
}

void LocalProvider::DeleteDatastore(const DeleteRequest& req, DeleteResponse* resp) {
  std::error_code ec;
  std::string path = Str(req.state, "id");
  if (!path.empty() && fs::is_directory(path, ec)) {
    bool has_data = false;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().filename() != ".kiln-address") has_data = true;
    if (has_data && !Bool(req.state, "force_destroy")) {
      resp->diagnostics.push_back(Err("datastore " + path + " holds data; it is kept", {"force_destroy"},
                                      "set `force_destroy = true` (and apply) to delete it with its data"));
      return;
    }
    fs::remove_all(path, ec);
  }
  fs::remove(root_ / "datastores" / (Slug(req.address) + ".json"), ec);
  if (ec) resp->diagnostics.push_back(Err("could not remove everything of " + req.address + ": " + ec.message()));
}

}  // namespace kiln::local
