#include "image/change.h"

#include <gtest/gtest.h>

using namespace berth;
using namespace berth::image;

static std::string fails(std::vector<std::string> changes) {
  RunConfig c;
  auto st = apply_changes(c, changes);
  return st.ok() ? "OK" : st.error().message;
}

TEST(Change, EntrypointClearsInheritedCmd) {
  RunConfig c;
  c.cmd = std::vector<std::string>{"inherited"};
  ASSERT_TRUE(apply_changes(c, {"ENTRYPOINT [\"/app\"]"}).ok());
  EXPECT_FALSE(c.cmd.has_value());
  EXPECT_EQ(*c.entrypoint, std::vector<std::string>{"/app"});
  ASSERT_TRUE(apply_changes(c, {"cmd [\"--help\"]", "entrypoint [\"/app\"]"}).ok());  // keywords are case-insensitive
  EXPECT_EQ(*c.cmd, std::vector<std::string>{"--help"});
}

TEST(Change, ShellFormAndEnvQuoting) {
  RunConfig c;
  ASSERT_TRUE(apply_changes(c, {"CMD [not json", "ENV PATH=/bin A=\"x \\\"y\\\"\" B='s p' C=a\\ b", "VOLUME /a /b"}).ok());
  EXPECT_EQ(*c.cmd, (std::vector<std::string>{"/bin/sh", "-c", "[not json"}));
  EXPECT_EQ(env_get(c.env, "A"), "x \"y\"");
  EXPECT_EQ(env_get(c.env, "B"), "s p");
  EXPECT_EQ(env_get(c.env, "C"), "a b");
  ASSERT_TRUE(apply_changes(c, {"ENV PATH=/usr/bin"}).ok());
  EXPECT_EQ(env_get(c.env, "PATH"), "/usr/bin");  // replaced, not duplicated
  EXPECT_EQ(c.env.size(), 4u);
  EXPECT_EQ(c.volumes, (std::vector<std::string>{"/a", "/b"}));
  ASSERT_TRUE(apply_changes(c, {"WORKDIR /a/b/../c/./"}).ok());
  EXPECT_EQ(c.working_dir, "/a/c");
}

TEST(Change, ExpandsVariablesLikeDockerfiles) {
  RunConfig c;
  c.env = {"PATH=/bin", "HOME=/root"};
  ASSERT_TRUE(apply_changes(c, {"ENV PATH=$PATH:/opt/bin OLD=$PATH", "ENV E=${UNSET:-dflt} F=${HOME:+set} G='$HOME' H=\\$HOME",
                                "WORKDIR ${HOME}/w", "LABEL home=\"$HOME\"", "CMD echo $HOME"}).ok());
  EXPECT_EQ(env_get(c.env, "PATH"), "/bin:/opt/bin");
  EXPECT_EQ(env_get(c.env, "OLD"), "/bin");  // pairs see the Env from before the instruction
  EXPECT_EQ(env_get(c.env, "E"), "dflt");
  EXPECT_EQ(env_get(c.env, "F"), "set");
  EXPECT_EQ(env_get(c.env, "G"), "$HOME");
  EXPECT_EQ(env_get(c.env, "H"), "$HOME");
  EXPECT_EQ(c.working_dir, "/root/w");
  EXPECT_EQ(c.labels.at("home"), "/root");
  EXPECT_EQ(c.cmd->at(2), "echo $HOME");  // the shell expands CMD at run time
}

TEST(Change, Rejects) {
  EXPECT_NE(fails({"FROM scratch"}).find("unsupported instruction \"FROM\""), std::string::npos);
  EXPECT_NE(fails({"HEALTHCHECK NONE"}).find("HEALTHCHECK"), std::string::npos);
  EXPECT_NE(fails({"EXPOSE 0"}).find("out of range"), std::string::npos);
  EXPECT_NE(fails({"EXPOSE 70000"}).find("out of range"), std::string::npos);
  EXPECT_NE(fails({"EXPOSE 80/http"}).find("protocol"), std::string::npos);
  EXPECT_NE(fails({"EXPOSE 90-80"}).find("empty port range"), std::string::npos);
  EXPECT_NE(fails({"EXPOSE 1-65535"}).find("exposed ports"), std::string::npos);
  EXPECT_NE(fails({"ONBUILD FROM x"}).find("not allowed"), std::string::npos);
  EXPECT_NE(fails({"STOPSIGNAL kill me"}).find("not a signal"), std::string::npos);
  EXPECT_NE(fails({"ENV A=\"open"}).find("unterminated quote"), std::string::npos);
  EXPECT_NE(fails({"ENV =x"}).find("not key=value"), std::string::npos);
  EXPECT_NE(fails({"ENV LONELY"}).find("needs a value"), std::string::npos);
  EXPECT_NE(fails({"CMD"}).find("needs an argument"), std::string::npos);
  EXPECT_NE(fails({"USER a b"}).find("exactly one"), std::string::npos);
  EXPECT_NE(fails({"   "}).find("empty instruction"), std::string::npos);
  EXPECT_EQ(fails({"STOPSIGNAL 9", "STOPSIGNAL SIGRTMIN+3", "EXPOSE 53/UDP"}), "OK");
}
