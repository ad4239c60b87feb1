// Each instruction's argument shape, its flags and its errors.
#include <gtest/gtest.h>

#include <string>

#include "dockerfile/dockerfile.h"

using namespace berth::dockerfile;

namespace {

using Strs = std::vector<std::string>;

// The first instruction of the first stage of "FROM base\n" + line.
Instruction one(std::string_view line) {
  auto r = parse("FROM base\n" + std::string(line) + "\n");
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok() || r->stages[0].body.empty()) return {};
  return r->stages[0].body[0];
}

std::string err(std::string_view line) {
  auto r = parse("FROM base\n" + std::string(line) + "\n");
  EXPECT_FALSE(r.ok()) << line;
  return r.ok() ? std::string() : r.error().message;
}

}  // namespace

TEST(Instructions, EveryKind) {
  const char* lines[] = {
      "RUN a",          "CMD a",         "ENTRYPOINT a", "SHELL [\"sh\"]", "ENV a=b",     "LABEL a=b",
      "ARG a",          "COPY a b",      "ADD a b",      "WORKDIR /a",     "USER u",      "EXPOSE 80",
      "VOLUME /v",      "STOPSIGNAL 9",  "HEALTHCHECK NONE", "ONBUILD RUN a", "MAINTAINER me",
  };
  Kind kinds[] = {Kind::run,     Kind::cmd,  Kind::entrypoint, Kind::shell,  Kind::env,        Kind::label,
                  Kind::arg,     Kind::copy, Kind::add,        Kind::workdir, Kind::user,      Kind::expose,
                  Kind::volume,  Kind::stopsignal, Kind::healthcheck, Kind::onbuild, Kind::maintainer};
  for (size_t i = 0; i < std::size(lines); i++) {
    auto in = one(lines[i]);
    EXPECT_EQ(in.kind, kinds[i]) << lines[i];
    std::string kw(lines[i]);
    EXPECT_EQ(kw.substr(0, kw.find(' ')), keyword_of(in.kind));
    EXPECT_EQ(in.original, lines[i]);
  }
  auto r = parse("FROM a\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stages[0].from.kind, Kind::from);
}

TEST(ExecShellForm, JsonDetection) {
  auto e = one("CMD [\"echo\", \"a b\", \"\\u00e9\"]");
  EXPECT_TRUE(e.json);
  EXPECT_EQ(e.args, (Strs{"echo", "a b", "\xC3\xA9"}));
  auto s = one("RUN   echo   \"x\"  ");
  EXPECT_FALSE(s.json);
  EXPECT_EQ(s.args, Strs{"echo   \"x\""});
  // Starts with [ but is not valid JSON: shell form, kept as written.
  auto b = one("RUN [ -f /x ] && echo yes");
  EXPECT_FALSE(b.json);
  EXPECT_EQ(b.args, Strs{"[ -f /x ] && echo yes"});
  auto q = one("ENTRYPOINT ['single', 'quotes']");
  EXPECT_FALSE(q.json);
  EXPECT_EQ(q.args, Strs{"['single', 'quotes']"});
  auto t = one("CMD [\"a\"] trailing");
  EXPECT_FALSE(t.json);
  auto empty = one("CMD []");
  EXPECT_TRUE(empty.json);
  EXPECT_TRUE(empty.args.empty());
}

TEST(ExecShellForm, Errors) {
  EXPECT_EQ(err("CMD [\"a\", 1]"), "Dockerfile:2:5: a JSON array here must hold only strings ([\"a\", 1])");
  EXPECT_EQ(err("RUN [[\"a\"]]"), "Dockerfile:2:5: a JSON array here must hold only strings ([[\"a\"]])");
  EXPECT_EQ(err("RUN"), "Dockerfile:2:1: RUN requires at least one argument (RUN)");
  EXPECT_EQ(err("RUN []"), "Dockerfile:2:1: RUN requires at least one argument (RUN [])");
  EXPECT_EQ(err("SHELL /bin/sh -c"), "Dockerfile:2:1: SHELL requires the arguments to be in JSON form (SHELL /bin/sh -c)");
  EXPECT_EQ(err("SHELL []"), "Dockerfile:2:1: SHELL requires at least one argument (SHELL [])");
}

TEST(Flags, RunMountsKeptRaw) {
  auto in = one("RUN --mount=type=cache,target=/x --mount=type=secret,id=s \\\n    --network=none echo hi");
  ASSERT_EQ(in.flags.size(), 3u);
  auto mounts = in.all_flags("mount");
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0]->value, "type=cache,target=/x");
  EXPECT_EQ(mounts[1]->value, "type=secret,id=s");
  EXPECT_TRUE(mounts[0]->has_value);
  EXPECT_EQ(mounts[0]->pos.line, 2);
  EXPECT_EQ(mounts[0]->pos.column, 5);
  EXPECT_EQ(in.flag("--network")->value, "none");
  EXPECT_EQ(in.flag("network")->pos.line, 3);
  EXPECT_EQ(in.flag("network")->pos.column, 5);
  EXPECT_EQ(in.flag("security"), nullptr);
  EXPECT_EQ(in.args, Strs{"echo hi"});
}

TEST(Flags, QuotesRemovedAndDoubleDashEnds) {
  auto in = one("RUN --mount=\"type=bind,source=a b\" -- --not-a-flag");
  ASSERT_EQ(in.flags.size(), 1u);
  EXPECT_EQ(in.flags[0].value, "type=bind,source=a b");
  EXPECT_EQ(in.args, Strs{"--not-a-flag"});
}

TEST(Flags, CopyAndAdd) {
  auto c = one("COPY --from=build --chown=1:1 --chmod=644 --link --parents --exclude=*.md --exclude=x a b /d/");
  EXPECT_EQ(c.flags.size(), 7u);
  EXPECT_FALSE(c.flag("link")->has_value);
  EXPECT_EQ(c.all_flags("exclude").size(), 2u);
  EXPECT_EQ(c.args, (Strs{"a", "b", "/d/"}));
  auto a = one("ADD --checksum=sha256:abc --keep-git-dir=true --link=false https://x/y.tgz /");
  EXPECT_EQ(a.flag("keep-git-dir")->value, "true");
  EXPECT_EQ(a.flag("link")->value, "false");
  auto j = one("COPY --chown=a [\"x y\", \"/d\"]");
  EXPECT_TRUE(j.json);
  EXPECT_EQ(j.args, (Strs{"x y", "/d"}));
}

TEST(Flags, Errors) {
  EXPECT_EQ(err("COPY --from a b"), "Dockerfile:2:6: missing a value on flag (--from)");
  EXPECT_EQ(err("COPY --link=maybe a b"),
            "Dockerfile:2:6: expecting true or false as the value of a boolean flag (--link=maybe)");
  EXPECT_EQ(err("COPY --from=a --from=b x y"), "Dockerfile:2:15: duplicate flag for COPY (--from=b)");
  EXPECT_EQ(err("ADD --from=a x y"), "Dockerfile:2:5: unknown flag for ADD (--from=a)");
  EXPECT_EQ(err("ENV --x=1 a=b"), "Dockerfile:2:5: unknown flag for ENV (--x=1)");
  EXPECT_EQ(err("RUN --mount echo"), "Dockerfile:2:5: missing a value on flag (--mount)");
  EXPECT_EQ(err("CMD --help"), "Dockerfile:2:5: unknown flag for CMD (--help)");
}

TEST(EnvLabel, SeveralPairsAndQuotes) {
  auto e = one("ENV A=1 B=\"two words\" C='$x' D=a\\ b E=");
  ASSERT_EQ(e.pairs.size(), 5u);
  EXPECT_EQ(e.pairs[0].key, "A");
  EXPECT_EQ(e.pairs[0].value, "1");
  EXPECT_EQ(e.pairs[1].value, "\"two words\"");
  EXPECT_EQ(e.pairs[2].value, "'$x'");
  EXPECT_EQ(e.pairs[3].value, "a\\ b");
  EXPECT_EQ(e.pairs[4].value, "");
  auto l = one("LABEL \"com.example.vendor\"=\"ACME Inc\" version=1.0 \\\n      description=\"multi \\\n line\"");
  ASSERT_EQ(l.pairs.size(), 3u);
  EXPECT_EQ(l.pairs[0].key, "\"com.example.vendor\"");
  EXPECT_EQ(l.pairs[2].value, "\"multi  line\"");
}

TEST(EnvLabel, LegacyForm) {
  auto e = one("ENV PATH /usr/local/bin:$PATH  and more");
  ASSERT_EQ(e.pairs.size(), 1u);
  EXPECT_EQ(e.pairs[0].key, "PATH");
  EXPECT_EQ(e.pairs[0].value, "/usr/local/bin:$PATH  and more");
  auto l = one("LABEL maintainer \"a b\"");
  EXPECT_EQ(l.pairs[0].value, "\"a b\"");
}

TEST(EnvLabel, Errors) {
  EXPECT_EQ(err("ENV"), "Dockerfile:2:1: ENV requires at least one argument (ENV)");
  EXPECT_EQ(err("ENV A"), "Dockerfile:2:1: ENV must have two arguments (the legacy form is ENV key value) (ENV A)");
  EXPECT_EQ(err("ENV A=1 B"), "Dockerfile:2:1: can't find = in B, it must be of the form name=value (ENV A=1 B)");
  EXPECT_EQ(err("LABEL =x"), "Dockerfile:2:1: LABEL names can not be blank (LABEL =x)");
}

TEST(Arg, NameAndDefault) {
  auto a = one("ARG A B=2 C=\"x y\" D=");
  ASSERT_EQ(a.pairs.size(), 4u);
  EXPECT_EQ(a.pairs[0].key, "A");
  EXPECT_FALSE(a.pairs[0].value.has_value());
  EXPECT_EQ(a.pairs[1].value, "2");
  EXPECT_EQ(a.pairs[2].value, "\"x y\"");
  EXPECT_EQ(a.pairs[3].value, "");
  EXPECT_EQ(err("ARG"), "Dockerfile:2:1: ARG requires at least one argument (ARG)");
  EXPECT_EQ(err("ARG =1"), "Dockerfile:2:1: ARG names can not be blank (ARG =1)");
}

TEST(From, PlatformAndName) {
  auto r = parse("FROM --platform=$BUILDPLATFORM golang:1.22 As Build-1.x_y\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& f = r->stages[0].from;
  EXPECT_EQ(f.flag("platform")->value, "$BUILDPLATFORM");
  EXPECT_EQ(f.args, (Strs{"golang:1.22", "AS", "build-1.x_y"}));
  EXPECT_EQ(r->stages[0].name, "build-1.x_y");
}

TEST(From, Errors) {
  EXPECT_EQ(parse("FROM a AS 1st\n").error().message,
            "Dockerfile:1:11: invalid stage name: it must start with a letter and hold only letters, digits, '-', "
            "'_', '.' (1st)");
  EXPECT_EQ(parse("FROM a AS b/c\n").error().message.substr(0, 35), "Dockerfile:1:11: invalid stage name");
  EXPECT_EQ(parse("FROM a b\n").error().message,
            "Dockerfile:1:1: FROM requires either one or three arguments (image [AS name]) (FROM a b)");
  EXPECT_EQ(parse("FROM\n").error().message,
            "Dockerfile:1:1: FROM requires either one or three arguments (image [AS name]) (FROM)");
  EXPECT_EQ(parse("FROM --platfrom=x a\n").error().message, "Dockerfile:1:6: unknown flag for FROM (--platfrom=x)");
}

TEST(CopyAdd, Errors) {
  EXPECT_EQ(err("COPY a"),
            "Dockerfile:2:1: COPY requires at least two arguments: sources and a destination (COPY a)");
  EXPECT_EQ(err("ADD [\"a\"]"),
            "Dockerfile:2:1: ADD requires at least two arguments: sources and a destination (ADD [\"a\"])");
}

TEST(SimpleArgs, RestOfLine) {
  EXPECT_EQ(one("WORKDIR /a b").args, Strs{"/a b"});
  EXPECT_EQ(one("USER app:app").args, Strs{"app:app"});
  EXPECT_EQ(one("STOPSIGNAL SIGTERM").args, Strs{"SIGTERM"});
  EXPECT_EQ(one("MAINTAINER A <a@b>").args, Strs{"A <a@b>"});
  EXPECT_EQ(one("EXPOSE 80/tcp  443 \t 53/udp").args, (Strs{"80/tcp", "443", "53/udp"}));
  EXPECT_EQ(one("VOLUME /a /b").args, (Strs{"/a", "/b"}));
  auto v = one("VOLUME [\"/a\", \"/b c\"]");
  EXPECT_TRUE(v.json);
  EXPECT_EQ(v.args, (Strs{"/a", "/b c"}));
  EXPECT_EQ(err("WORKDIR"), "Dockerfile:2:1: WORKDIR requires exactly one argument (WORKDIR)");
  EXPECT_EQ(err("EXPOSE"), "Dockerfile:2:1: EXPOSE requires at least one argument (EXPOSE)");
  EXPECT_EQ(err("VOLUME [\"\"]"), "Dockerfile:2:1: VOLUME paths can not be empty (VOLUME [\"\"])");
}

TEST(Healthcheck, NoneAndCmd) {
  auto n = one("HEALTHCHECK none");
  EXPECT_TRUE(n.healthcheck_none);
  EXPECT_EQ(n.args, Strs{"NONE"});
  EXPECT_FALSE(n.json);
  auto c = one("HEALTHCHECK --interval=5m --timeout=3s --start-period=1s --start-interval=2s --retries=3 \\\n  CMD curl -f http://localhost/ || exit 1");
  EXPECT_FALSE(c.healthcheck_none);
  EXPECT_FALSE(c.json);
  EXPECT_EQ(c.args, Strs{"curl -f http://localhost/ || exit 1"});
  EXPECT_EQ(c.flag("interval")->value, "5m");
  EXPECT_EQ(c.flag("retries")->value, "3");
  EXPECT_EQ(c.flags.size(), 5u);
  auto j = one("HEALTHCHECK CMD [\"/bin/check\", \"-q\"]");
  EXPECT_TRUE(j.json);
  EXPECT_EQ(j.args, (Strs{"/bin/check", "-q"}));
}

TEST(Healthcheck, Errors) {
  EXPECT_EQ(err("HEALTHCHECK NONE x"), "Dockerfile:2:1: HEALTHCHECK NONE takes no arguments (HEALTHCHECK NONE x)");
  EXPECT_EQ(err("HEALTHCHECK --interval=1s NONE"),
            "Dockerfile:2:1: HEALTHCHECK NONE takes no arguments (HEALTHCHECK --interval=1s NONE)");
  EXPECT_EQ(err("HEALTHCHECK CMD"), "Dockerfile:2:1: missing command after HEALTHCHECK CMD (HEALTHCHECK CMD)");
  EXPECT_EQ(err("HEALTHCHECK RUN x"), "Dockerfile:2:1: unknown HEALTHCHECK type RUN (try CMD) (HEALTHCHECK RUN x)");
  EXPECT_EQ(err("HEALTHCHECK --retries CMD x"), "Dockerfile:2:13: missing a value on flag (--retries)");
  EXPECT_EQ(err("HEALTHCHECK"), "Dockerfile:2:1: HEALTHCHECK requires at least one argument (HEALTHCHECK)");
}

TEST(Onbuild, TriggerText) {
  auto o = one("ONBUILD   RUN --mount=type=cache,target=/c make \\\n  install");
  EXPECT_EQ(o.args, Strs{"RUN --mount=type=cache,target=/c make   install"});
  auto t = parse_instruction(o.args[0]);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->kind, Kind::run);
  EXPECT_EQ(t->all_flags("mount").size(), 1u);
  EXPECT_EQ(one("onbuild copy a b").args, Strs{"copy a b"});
}

TEST(Onbuild, Refusals) {
  EXPECT_EQ(err("ONBUILD"), "Dockerfile:2:1: ONBUILD requires at least one argument (ONBUILD)");
  EXPECT_EQ(err("ONBUILD FROM x"), "Dockerfile:2:1: FROM isn't allowed as an ONBUILD trigger (ONBUILD FROM x)");
  EXPECT_EQ(err("ONBUILD onbuild RUN x"),
            "Dockerfile:2:1: chaining ONBUILD via ONBUILD ONBUILD isn't allowed (ONBUILD onbuild RUN x)");
  EXPECT_EQ(err("ONBUILD MAINTAINER x"), "Dockerfile:2:1: MAINTAINER isn't allowed as an ONBUILD trigger (ONBUILD MAINTAINER x)");
  // The trigger is checked now; its errors point into the ONBUILD line.
  EXPECT_EQ(err("ONBUILD COPY --bad=1 a b"), "Dockerfile:2:14: unknown flag for COPY (--bad=1)");
  EXPECT_EQ(err("ONBUILD RUNX a"), "Dockerfile:2:9: unknown instruction RUNX (RUNX a)");
  EXPECT_EQ(err("ONBUILD RUN <<EOF"), "Dockerfile:2:1: heredocs are not supported in ONBUILD triggers (ONBUILD RUN <<EOF)");
}
