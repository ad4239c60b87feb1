// berth commit: a container's upper dir becomes a new layer on its image.
#include "engine/commit.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/fs.h"
#include "image/change.h"
#include "image/config.h"
#include "image/manifest.h"
#include "image/media_types.h"
#include "layer/layer.h"
#include "runtime/container.h"

namespace berth::engine {

Result<StoredLayer> store_upper_layer(Store& store, const std::string& upper, std::optional<int64_t> fixed_mtime,
                                      bool overlay_upper) {
  std::string tmp = path_join(store.root(), unique_name(".commit-"));
  UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return sys_error("create " + tmp);
  struct Unlink {
    std::string p;
    ~Unlink() { ::unlink(p.c_str()); }
  } unlink_tmp{tmp};
  layer::WriteOptions wo;
  wo.overlay_upper = overlay_upper;
  wo.compression = layer::Compression::gzip;
  wo.fixed_mtime = fixed_mtime;
  TRY_ASSIGN(auto st, layer::write_layer(upper, fd.get(), wo));
  fd.reset();
  TRY_ASSIGN(Digest d, store.content().put_file(tmp, st.blob_digest, content::PutMode::link_if_possible));
  StoredLayer out;
  out.descriptor.media_type = std::string(image::media::kOciLayerGzip);
  out.descriptor.digest = d;
  out.descriptor.size = static_cast<int64_t>(st.compressed_size);
  out.diff_id = st.diff_id;
  out.uncompressed_size = st.uncompressed_size;
  return out;
}

Result<Committed> commit_container(Engine& e, const Container& c, const image::ResolvedImage& base,
                                   const CommitOptions& o) {
  auto& store = e.store();
  runtime::GlobalOptions g;
  g.root = e.paths().runtime_root();
  bool paused = false;
  if (o.pause && c.state == State::running) {
    TRY(runtime::pause(g, c.id));
    paused = true;
  }
  struct Resume {
    runtime::GlobalOptions g;
    std::string id;
    bool on;
    ~Resume() {
      if (on) (void)runtime::resume(g, id);
    }
  } resume{g, c.id, paused};

  TRY_ASSIGN(auto ws, WriteSession::begin(store));
  TRY_ASSIGN(StoredLayer stored, store_upper_layer(store, e.paths().upper(c.id)));
  const image::Descriptor& layer_desc = stored.descriptor;
  const Digest& diff_id = stored.diff_id;
  TRY(ws.protect_blob(layer_desc.digest));
  resume = {};  // the copy is done: let the container run again
  if (paused) (void)runtime::resume(g, c.id);

  image::ImageConfig cfg = base.config;
  cfg.raw.clear();
  cfg.created = image::now_rfc3339();
  if (!o.author.empty()) cfg.author = o.author;
  // Docker's commit keeps what the container was run with.
  const auto& cc = c.config;
  if (cc.contains("cmd_override") && cc["cmd_override"].is_array())
    cfg.config.cmd = cc["cmd_override"].get<std::vector<std::string>>();
  if (cc.contains("entrypoint_override") && cc["entrypoint_override"].is_array())
    cfg.config.entrypoint = cc["entrypoint_override"].get<std::vector<std::string>>();
  if (cc.contains("env_added") && cc["env_added"].is_array())
    for (const auto& kv : cc["env_added"]) {
      std::string s = kv.get<std::string>();
      auto eq = s.find('=');
      if (eq != std::string::npos) image::env_set(cfg.config.env, s.substr(0, eq), s.substr(eq + 1));
    }
  if (cc.contains("labels") && cc["labels"].is_object())
    for (auto& [k, v] : cc["labels"].items()) cfg.config.labels[k] = v.get<std::string>();
  TRY(image::apply_changes(cfg.config, o.changes));
  cfg.diff_ids.push_back(diff_id);
  image::History h;
  h.created = cfg.created;
  h.created_by = "berth commit " + c.name;
  h.comment = o.message;
  h.author = o.author;
  cfg.history.push_back(std::move(h));
  std::string cbytes = image::serialize(cfg);
  TRY_ASSIGN(Digest cd, store.content().put(cbytes));
  TRY(ws.protect_blob(cd));

  image::Manifest m;
  m.media_type = std::string(image::media::kOciManifest);
  m.config = image::Descriptor::of(image::media::kOciConfig, cbytes);
  m.layers = base.manifest.layers;
  m.layers.push_back(layer_desc);
  std::string mbytes = image::serialize(m);
  TRY_ASSIGN(Digest md, store.content().put(mbytes));
  TRY(ws.protect_blob(md));

  metadata::Image rec;
  rec.name = o.name.empty() ? "<none>@" + md.str() : o.name;
  rec.target = {md, std::string(image::media::kOciManifest), static_cast<int64_t>(mbytes.size())};
  TRY(ws.commit(std::span<const metadata::Image>(&rec, 1)));
  Committed out;
  out.image_id = cd;
  out.manifest = md;
  return out;
}

}  // namespace berth::engine
