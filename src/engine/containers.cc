#include "engine/containers.h"

#include "journal/time.h"

#include <sqlite3.h>
#include <sys/random.h>

#include <array>

namespace berth::engine {

namespace {

constexpr metadata::Migration kMigrations[] = {
    {1, "containers",
     "CREATE TABLE containers ("
     " id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, image TEXT NOT NULL, image_id TEXT NOT NULL,"
     " manifest TEXT NOT NULL, state TEXT NOT NULL, pid INTEGER NOT NULL DEFAULT 0,"
     " pid_start INTEGER NOT NULL DEFAULT 0, monitor_pid INTEGER NOT NULL DEFAULT 0,"
     " exit_code INTEGER NOT NULL DEFAULT 0, created_ns INTEGER NOT NULL, started_ns INTEGER NOT NULL DEFAULT 0,"
     " finished_ns INTEGER NOT NULL DEFAULT 0, restart_count INTEGER NOT NULL DEFAULT 0,"
     " oom_killed INTEGER NOT NULL DEFAULT 0, config TEXT NOT NULL);"},
};

constexpr const char* kColumns =
    "id, name, image, image_id, manifest, state, pid, pid_start, monitor_pid, exit_code, created_ns, started_ns,"
    " finished_ns, restart_count, oom_killed, config";

Result<Container> from_row(const metadata::Stmt& s) {
  Container c;
  c.id = s.text(0);
  c.name = s.text(1);
  c.image = s.text(2);
  c.image_id = s.text(3);
  c.manifest = s.text(4);
  auto st = parse_state(s.text(5));
  if (!st) return Error(Errc::invalid_input, "container " + c.id + ": unknown state \"" + s.text(5) + "\" in database");
  c.state = *st;
  c.pid = static_cast<pid_t>(s.int64(6));
  c.pid_start = s.int64(7);
  c.monitor_pid = static_cast<pid_t>(s.int64(8));
  c.exit_code = static_cast<int>(s.int64(9));
  c.created_ns = s.int64(10);
  c.started_ns = s.int64(11);
  c.finished_ns = s.int64(12);
  c.restart_count = static_cast<int>(s.int64(13));
  c.oom_killed = s.int64(14) != 0;
  c.config = nlohmann::json::parse(s.text(15), nullptr, false);
  if (c.config.is_discarded()) return Error(Errc::invalid_input, "container " + c.id + ": malformed config in database");
  return c;
}

Status bind_all(metadata::Stmt& s, const Container& c) {
  s.bind(1, c.id).bind(2, c.name).bind(3, c.image).bind(4, c.image_id).bind(5, c.manifest)
      .bind(6, state_name(c.state)).bind(7, int64_t{c.pid}).bind(8, c.pid_start).bind(9, int64_t{c.monitor_pid})
      .bind(10, int64_t{c.exit_code}).bind(11, c.created_ns).bind(12, c.started_ns).bind(13, c.finished_ns)
      .bind(14, int64_t{c.restart_count}).bind(15, int64_t{c.oom_killed ? 1 : 0}).bind(16, c.config.dump());
  return Status{};
}

Result<std::vector<Container>> query(metadata::DB& db, const std::string& where, const std::string& arg) {
  std::vector<Container> out;
  TRY(db.read([&]() -> Status {
    TRY_ASSIGN(auto s, db.prepare(std::string("SELECT ") + kColumns + " FROM containers " + where));
    if (!arg.empty()) s.bind(1, arg);
    while (true) {
      TRY_ASSIGN(bool row, s.step());
      if (!row) break;
      TRY_ASSIGN(Container c, from_row(s));
      out.push_back(std::move(c));
    }
    return Status{};
  }));
  return out;
}

}  // namespace

const char* state_name(State s) {
  switch (s) {
    case State::created: return "created";
    case State::running: return "running";
    case State::paused: return "paused";
    case State::exited: return "exited";
    case State::removing: return "removing";
  }
  return "unknown";
}

std::optional<State> parse_state(std::string_view s) {
  for (State st : {State::created, State::running, State::paused, State::exited, State::removing})
    if (s == state_name(st)) return st;
  return std::nullopt;
}

Result<Containers> Containers::open(metadata::DB& db) {
  TRY(db.migrate("engine", kMigrations));
  // WAL + synchronous=NORMAL: a crash of any process still leaves the last
  // committed state (WAL is never torn); only a power loss can drop the last
  // container changes, and after a reboot every container is exited anyway.
  // Four fsyncs per `run --rm` would otherwise cost more than the run itself.
  // Writers that name images (commit) switch back to FULL for their commit.
  TRY(db.exec("PRAGMA synchronous=NORMAL"));
  return Containers(&db);
}

Status Containers::insert(const Container& c) {
  if (!valid_container_name(c.name)) return Error(Errc::invalid_argument, "invalid container name \"" + c.name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  return db_->write([&]() -> Status {
    TRY_ASSIGN(auto chk, db_->prepare("SELECT id FROM containers WHERE name = ?"));
    chk.bind(1, c.name);
    TRY_ASSIGN(bool taken, chk.step());
    if (taken)
      return Error(Errc::already_exists, "the container name \"" + c.name + "\" is already in use by container " + chk.text(0) +
                                             ": remove (or rename) that container to reuse the name");
    TRY_ASSIGN(auto s, db_->prepare(std::string("INSERT INTO containers (") + kColumns +
                                    ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    TRY(bind_all(s, c));
    return s.run();
  });
}

Status Containers::update(const Container& c) {
  return db_->write([&]() -> Status {
    TRY_ASSIGN(auto s, db_->prepare(
                           "UPDATE containers SET id=?1, name=?2, image=?3, image_id=?4, manifest=?5, state=?6, pid=?7,"
                           " pid_start=?8, monitor_pid=?9, exit_code=?10, created_ns=?11, started_ns=?12, finished_ns=?13,"
                           " restart_count=?14, oom_killed=?15, config=?16 WHERE id=?1"));
    TRY(bind_all(s, c));
    TRY(s.run());
    if (sqlite3_changes(db_->handle()) == 0) return Error(Errc::not_found, "No such container: " + c.id);
    return Status{};
  });
}

Status Containers::remove(const std::string& id) {
  return db_->write([&]() -> Status {
    TRY_ASSIGN(auto s, db_->prepare("DELETE FROM containers WHERE id = ?"));
    s.bind(1, id);
    return s.run();
  });
}

Status Containers::rename(const std::string& id, const std::string& new_name) {
  if (!valid_container_name(new_name)) return Error(Errc::invalid_argument, "invalid container name \"" + new_name + "\"");
  return db_->write([&]() -> Status {
    TRY_ASSIGN(auto s, db_->prepare("UPDATE containers SET name = ? WHERE id = ?"));
    s.bind(1, new_name).bind(2, id);
    auto r = s.run();
    if (!r.ok() && r.error().code == Errc::already_exists)
      return Error(Errc::already_exists, "the container name \"" + new_name + "\" is already in use");
    return r;
  });
}

Result<Container> Containers::get(const std::string& id) {
  TRY_ASSIGN(auto v, query(*db_, "WHERE id = ?", id));
  if (v.empty()) return Error(Errc::not_found, "No such container: " + id);
  return std::move(v[0]);
}

Result<Container> Containers::lookup(const std::string& ref) {
  if (ref.empty()) return Error(Errc::invalid_argument, "empty container name or id");
  TRY_ASSIGN(auto v, query(*db_, "WHERE id = ?1 OR name = ?1", ref));
  if (!v.empty()) return std::move(v[0]);
  bool hex = ref.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (hex) {
    TRY_ASSIGN(auto p, query(*db_, "WHERE substr(id, 1, length(?1)) = ?1", ref));
    if (p.size() == 1) return std::move(p[0]);
    if (p.size() > 1) return Error(Errc::invalid_argument, "container id prefix \"" + ref + "\" is ambiguous");
  }
  return Error(Errc::not_found, "No such container: " + ref);
}

Result<std::vector<Container>> Containers::list() { return query(*db_, "ORDER BY created_ns DESC", ""); }

std::string new_container_id() {
  std::array<unsigned char, 32> b{};
  size_t got = 0;
  while (got < b.size()) {
    ssize_t n = ::getrandom(b.data() + got, b.size() - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

std::string random_container_name() {
  static const char* adj[] = {"admiring", "bold", "brave", "calm", "clever", "eager", "elegant", "festive", "gentle",
                              "happy", "jolly", "keen", "lucid", "nifty", "quirky", "serene", "sharp", "stoic",
                              "tender", "vibrant", "wizardly", "zealous"};
  static const char* noun[] = {"archimedes", "babbage", "curie", "darwin", "euclid", "fermi", "galileo", "hopper",
                               "knuth", "lovelace", "noether", "pascal", "ritchie", "shannon", "thompson", "turing"};
  unsigned int r[2] = {0, 0};
  (void)::getrandom(r, sizeof r, 0);
  return std::string(adj[r[0] % std::size(adj)]) + "_" + noun[r[1] % std::size(noun)];
}

bool valid_container_name(std::string_view n) {
  if (n.empty() || n.size() > 253) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(n[0])) return false;
  for (char c : n)
    if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

int64_t now_ns() { return journal::now_ns(); }

}  // namespace berth::engine
