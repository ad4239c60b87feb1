// Line handling: directives, comments, continuations, heredocs, stages,
// limits and the shape of errors.
#include <gtest/gtest.h>

#include <string>

#include "dockerfile/dockerfile.h"

using namespace berth::dockerfile;

namespace {

Dockerfile ok(std::string_view text) {
  auto r = parse(text);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(r).value() : Dockerfile{};
}

std::string err(std::string_view text) {
  auto r = parse(text);
  EXPECT_FALSE(r.ok());
  return r.ok() ? std::string() : r.error().message;
}

const Instruction& body(const Dockerfile& df, size_t i, size_t stage = 0) { return df.stages.at(stage).body.at(i); }

}  // namespace

TEST(Directives, SyntaxAndEscape) {
  auto df = ok("# syntax=docker/dockerfile:1\n# escape=`\nFROM a\nRUN echo `\n  hi\n");
  EXPECT_EQ(df.syntax, "docker/dockerfile:1");
  EXPECT_EQ(df.escape, '`');
  ASSERT_EQ(df.stages[0].body.size(), 1u);
  EXPECT_EQ(body(df, 0).args, std::vector<std::string>{"echo   hi"});
  EXPECT_EQ(body(df, 0).pos.line, 4);
  EXPECT_EQ(body(df, 0).end_line, 5);
}

TEST(Directives, WindowsStyleContinuationWithBacktick) {
  // With escape=` a backslash is an ordinary character (Windows paths).
  auto df = ok("# escape=`\nFROM windows\nCOPY C:\\src\\ `\n     C:\\dest\\\nRUN dir c:\\\n");
  ASSERT_EQ(df.stages[0].body.size(), 2u);
  EXPECT_EQ(body(df, 0).args, (std::vector<std::string>{"C:\\src\\", "C:\\dest\\"}));
  EXPECT_EQ(body(df, 1).args, std::vector<std::string>{"dir c:\\"});
}

TEST(Directives, SpacesAndCaseAreAccepted) {
  auto df = ok("#  ESCAPE =  `  \nFROM a\n");
  EXPECT_EQ(df.escape, '`');
}

TEST(Directives, OnlyAtTheTop) {
  auto df = ok("FROM a\n# escape=`\nRUN a \\\n b\n");
  EXPECT_EQ(df.escape, '\\');
  EXPECT_EQ(body(df, 0).args, std::vector<std::string>{"a  b"});
  // After a comment or a blank line, it is a comment too.
  EXPECT_EQ(ok("# hello\n# escape=`\nFROM a\n").escape, '\\');
  EXPECT_EQ(ok("\n# escape=`\nFROM a\n").escape, '\\');
}

TEST(Directives, UnknownDirectiveIsACommentAndEndsDirectives) {
  auto df = ok("# foo=bar\n# escape=`\nFROM a\n");
  EXPECT_EQ(df.escape, '\\');
  EXPECT_EQ(ok("# check=skip=all\n# escape=`\nFROM a\n").escape, '`');
}

TEST(Directives, Errors) {
  EXPECT_EQ(err("# escape=`\n# escape=\\\nFROM a\n"),
            "Dockerfile:2:1: only one escape parser directive can be used (escape=\\)");
  EXPECT_EQ(err("# escape=x\nFROM a\n"), "Dockerfile:1:1: invalid escape character, it must be ` or \\ (x)");
}

TEST(Lines, CommentsAndBlankLines) {
  auto df = ok("\n\n# a comment\n   # indented comment\nFROM a\n\n  RUN  x  \n");
  ASSERT_EQ(df.stages[0].body.size(), 1u);
  EXPECT_EQ(body(df, 0).pos.line, 7);
  EXPECT_EQ(body(df, 0).pos.column, 3);
  EXPECT_EQ(body(df, 0).args, std::vector<std::string>{"x"});
}

TEST(Lines, CommentsInsideContinuationAreDropped) {
  auto df = ok("FROM a\nRUN apt-get update && \\\n# a comment\n    # another\n    apt-get install x\n");
  EXPECT_EQ(body(df, 0).args, std::vector<std::string>{"apt-get update &&     apt-get install x"});
  EXPECT_EQ(body(df, 0).original, "RUN apt-get update &&     apt-get install x");
  EXPECT_EQ(body(df, 0).end_line, 5);
}

TEST(Lines, EmptyContinuationLinesAreSkipped) {
  auto df = ok("FROM a\nRUN a \\\n\n   \n  b\nRUN c\n");
  ASSERT_EQ(df.stages[0].body.size(), 2u);
  EXPECT_EQ(body(df, 0).args, std::vector<std::string>{"a   b"});
  EXPECT_EQ(body(df, 0).end_line, 5);
  EXPECT_EQ(body(df, 1).args, std::vector<std::string>{"c"});
  EXPECT_EQ(body(df, 1).pos.line, 6);
  // A blank line does not end a continuation either (as in BuildKit).
  auto j = ok("FROM a\nRUN a \\\n\nRUN b\n");
  ASSERT_EQ(j.stages[0].body.size(), 1u);
  EXPECT_EQ(body(j, 0).args, std::vector<std::string>{"a RUN b"});
}

TEST(Lines, ContinuationRules) {
  // Trailing blanks after the escape still continue; an escaped escape does not.
  auto df = ok("FROM a\nRUN a \\  \n b\nRUN c \\\\\nRUN d\\\n");
  ASSERT_EQ(df.stages[0].body.size(), 3u);
  EXPECT_EQ(body(df, 0).args, std::vector<std::string>{"a  b"});
  EXPECT_EQ(body(df, 1).args, std::vector<std::string>{"c \\\\"});
  EXPECT_EQ(body(df, 2).args, std::vector<std::string>{"d"});  // continued into the end of file
}

TEST(Lines, CrlfAndBom) {
  auto df = ok("\xEF\xBB\xBF# escape=`\r\nFROM a\r\nRUN b `\r\n c\r\n");
  EXPECT_EQ(df.escape, '`');
  EXPECT_EQ(body(df, 0).args, std::vector<std::string>{"b  c"});
}

TEST(Lines, KeywordsAreCaseInsensitive) {
  auto df = ok("from a AS Builder\nrun x\nCoPy a b\n");
  EXPECT_EQ(df.stages[0].name, "builder");
  EXPECT_EQ(body(df, 0).kind, Kind::run);
  EXPECT_EQ(keyword_of(body(df, 1).kind), std::string("COPY"));
}

TEST(Stages, MetaArgsAndMultiStage) {
  auto df = ok("ARG BASE=alpine\nARG V\nFROM $BASE AS one\nRUN a\nFROM one\nRUN b\nCOPY --from=one /x /y\n");
  ASSERT_EQ(df.meta_args.size(), 2u);
  EXPECT_EQ(df.meta_args[0].pairs[0].key, "BASE");
  EXPECT_EQ(df.meta_args[1].pairs[0].value, std::nullopt);
  ASSERT_EQ(df.stages.size(), 2u);
  EXPECT_EQ(df.stages[0].name, "one");
  EXPECT_EQ(df.stages[0].from.args, (std::vector<std::string>{"$BASE", "AS", "one"}));
  EXPECT_EQ(df.stages[0].body.size(), 1u);
  EXPECT_EQ(df.stages[1].name, "");
  EXPECT_EQ(df.stages[1].body.size(), 2u);
  EXPECT_EQ(df.stages[1].body[1].flag("from")->value, "one");
}

TEST(Stages, Errors) {
  EXPECT_EQ(err("RUN a\nFROM b\n"), "Dockerfile:1:1: RUN before the first FROM (RUN a)");
  EXPECT_EQ(err("ARG A\n"), "Dockerfile:1:1: no FROM instruction: a Dockerfile needs at least one stage");
  EXPECT_EQ(err(""), "Dockerfile:1:1: no FROM instruction: a Dockerfile needs at least one stage");
  EXPECT_EQ(err("FROM a AS x\nFROM b AS X\n"), "Dockerfile:2:1: duplicate stage name x (FROM b AS X)");
}

TEST(Heredocs, RunSimple) {
  auto df = ok("FROM a\nRUN <<EOF\necho $HOME\nEOF\nRUN b\n");
  const auto& in = body(df, 0);
  EXPECT_EQ(in.args, std::vector<std::string>{"<<EOF"});
  ASSERT_EQ(in.heredocs.size(), 1u);
  EXPECT_EQ(in.heredocs[0].name, "EOF");
  EXPECT_EQ(in.heredocs[0].content, "echo $HOME\n");
  EXPECT_TRUE(in.heredocs[0].expand);
  EXPECT_FALSE(in.heredocs[0].strip_tabs);
  EXPECT_EQ(in.end_line, 4);
  EXPECT_EQ(body(df, 1).pos.line, 5);
}

TEST(Heredocs, CommandWithRedirection) {
  auto df = ok("FROM a\nRUN cat <<EOF > /x\nline 1\n\n# not a comment\nEOF\n");
  const auto& in = body(df, 0);
  EXPECT_EQ(in.args, std::vector<std::string>{"cat <<EOF > /x"});
  ASSERT_EQ(in.heredocs.size(), 1u);
  EXPECT_EQ(in.heredocs[0].content, "line 1\n\n# not a comment\n");
}

TEST(Heredocs, StripTabsAndQuotedDelimiters) {
  auto df = ok("FROM a\nRUN <<-EOF\n\t\techo a\n\tb\n\tEOF\nRUN <<'X'\n$A\nX\nRUN <<\"Y\"\n$B\nY\n");
  EXPECT_TRUE(body(df, 0).heredocs[0].strip_tabs);
  EXPECT_EQ(body(df, 0).heredocs[0].content, "echo a\nb\n");
  EXPECT_EQ(body(df, 1).heredocs[0].name, "X");
  EXPECT_FALSE(body(df, 1).heredocs[0].expand);
  EXPECT_EQ(body(df, 2).heredocs[0].name, "Y");
  EXPECT_FALSE(body(df, 2).heredocs[0].expand);
}

TEST(Heredocs, SeveralOnOneLine) {
  auto df = ok("FROM a\nRUN <<A cat /dev/stdin - <<-B\nfirst\nA\n\tsecond\n\tB\nRUN x\n");
  const auto& in = body(df, 0);
  ASSERT_EQ(in.heredocs.size(), 2u);
  EXPECT_EQ(in.heredocs[0].name, "A");
  EXPECT_EQ(in.heredocs[0].content, "first\n");
  EXPECT_EQ(in.heredocs[1].name, "B");
  EXPECT_EQ(in.heredocs[1].content, "second\n");
  EXPECT_EQ(in.end_line, 6);
}

TEST(Heredocs, CopyToDestination) {
  auto df = ok("FROM a\nCOPY --chmod=755 <<run.sh <<'cfg' /dest/\n#!/bin/sh\nrun.sh\nk=$v\ncfg\n");
  const auto& in = body(df, 0);
  EXPECT_EQ(in.args, (std::vector<std::string>{"<<run.sh", "<<'cfg'", "/dest/"}));
  ASSERT_EQ(in.heredocs.size(), 2u);
  EXPECT_EQ(in.heredocs[0].name, "run.sh");
  EXPECT_EQ(in.heredocs[0].content, "#!/bin/sh\n");
  EXPECT_EQ(in.heredocs[1].name, "cfg");
  EXPECT_EQ(in.heredocs[1].content, "k=$v\n");
  EXPECT_FALSE(in.heredocs[1].expand);
}

TEST(Heredocs, OpenerSpellings) {
  auto df = ok("FROM a\nRUN << EOF\n$x\nEOF\nRUN 3<<E\"O\"F\n$y\nEOF\nADD <<-T /t\nz\n\t\tT\n");
  EXPECT_EQ(body(df, 0).heredocs.at(0).name, "EOF");
  EXPECT_TRUE(body(df, 0).heredocs.at(0).expand);
  EXPECT_EQ(body(df, 1).heredocs.at(0).name, "EOF");
  EXPECT_FALSE(body(df, 1).heredocs.at(0).expand);
  EXPECT_EQ(body(df, 1).heredocs.at(0).content, "$y\n");
  EXPECT_EQ(body(df, 2).heredocs.at(0).name, "T");
  EXPECT_EQ(body(df, 2).heredocs.at(0).content, "z\n");
  EXPECT_EQ(body(df, 2).end_line, 10);
}

TEST(Heredocs, NotDetected) {
  // JSON form, no space before <<, a here-string, and instructions that take none.
  auto df = ok("FROM a\nRUN [\"sh\", \"<<EOF\"]\nRUN cat<<EOF\nRUN cat <<<word\nCMD <<EOF\nRUN echo '<<EOF'\n");
  for (const auto& in : df.stages[0].body) EXPECT_TRUE(in.heredocs.empty()) << in.original;
  EXPECT_EQ(df.stages[0].body.size(), 5u);
}

TEST(Heredocs, Errors) {
  EXPECT_EQ(err("FROM a\nRUN <<EOF\necho\n"),
            "Dockerfile:2:1: unterminated heredoc <<EOF, its delimiter line never came (RUN <<EOF)");
  EXPECT_EQ(err("FROM a\nCOPY x <<EOF\nEOF\n"),
            "Dockerfile:2:1: COPY cannot take a heredoc as its destination (COPY x <<EOF)");
}

TEST(Limits, SizeAndCount) {
  std::string big(kMaxDockerfile + 1, '#');
  auto r = parse(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, berth::Errc::limit);
  EXPECT_EQ(r.error().message, "Dockerfile:1:1: Dockerfile larger than 4194304 bytes (4194305 bytes)");

  std::string many = "FROM a\n";
  for (size_t i = 0; i < kMaxInstructions; i++) many += "RUN x\n";
  auto m = parse(many);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, berth::Errc::limit);
  EXPECT_EQ(m.error().message, "Dockerfile:10001:1: more than 10000 instructions (RUN x)");
}

TEST(Limits, HeredocSize) {
  // kMaxHeredoc equals kMaxDockerfile, so the file limit trips first; a
  // heredoc just under it is parsed whole.
  std::string t = "FROM a\nRUN <<EOF\n";
  std::string line(1000, 'x');
  line += '\n';
  while (t.size() + line.size() + 4 <= kMaxDockerfile) t += line;
  size_t content = t.size() - 17;
  t += "EOF\n";
  auto r = parse(t);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->stages[0].body[0].heredocs[0].content.size(), content);
  t.resize(kMaxDockerfile + 1, '\n');
  auto over = parse(t);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, berth::Errc::limit);
}

TEST(Errors, FileLineColumnAndOneLine) {
  auto r = parse("FROM a\nRUN a \\\n  --bad \\\n  b\n", "ctx/Dockerfile.dev");
  ASSERT_TRUE(r.ok());  // a flag is only a flag before the arguments
  auto e = parse("FROM a\nCOPY \\\n  --bad=1 a b\n", "ctx/Dockerfile.dev");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "ctx/Dockerfile.dev:3:3: unknown flag for COPY (--bad=1)");
  auto u = parse("FROM a\n\tRUNN echo\x01hi\n");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().message, "Dockerfile:2:2: unknown instruction RUNN (RUNN echo\\x01hi)");
  EXPECT_EQ(u.error().message.find('\n'), std::string::npos);
}

TEST(ParseInstruction, OneInstruction) {
  auto r = parse_instruction("RUN echo hi");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->args, std::vector<std::string>{"echo hi"});
  auto c = parse_instruction("COPY a `\n b", '`');
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->args, (std::vector<std::string>{"a", "b"}));
}

TEST(ParseInstruction, Refusals) {
  EXPECT_EQ(parse_instruction("FROM a").error().message, "instruction:1:1: FROM is not allowed here (FROM a)");
  EXPECT_EQ(parse_instruction("RUN <<EOF").error().message,
            "instruction:1:1: heredocs are not allowed here (RUN <<EOF)");
  EXPECT_EQ(parse_instruction("ONBUILD ONBUILD RUN x").error().message,
            "instruction:1:1: chaining ONBUILD via ONBUILD ONBUILD isn't allowed (ONBUILD ONBUILD RUN x)");
  EXPECT_EQ(parse_instruction("RUN a\nRUN b").error().message, "instruction:2:1: more than one instruction (RUN b)");
  EXPECT_EQ(parse_instruction("  \n# c\n").error().message, "instruction:1:1: empty instruction");
}
