// detail::yaml::tree: YAML text -> nodes with lines and columns, aliases, limits.
#include "taskwatch/detail/yaml.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace taskwatch::detail::yaml;

namespace {

// The parse_error `text` gives, as "LINE:COLUMN: problem"; fails the test when it parses.
std::string error_of(std::string_view text) {
    try {
        tree t(text);
    } catch (const parse_error& e) {
        return std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.what();
    }
    FAIL_CHECK("no parse_error thrown");
    return {};
}

} // namespace

TEST_CASE("scalars, lists and mappings come with their text, line and column") {
    tree t("# a comment\n"
           "name: ops\n"
           "hooks:\n"
           "  - url: \"https://h/x\"\n"
           "    tries: 3\n"
           "  - [a, 'b c']\n");
    REQUIRE(t.documents() == 1);
    auto root = t.document(0);
    REQUIRE(root.is_mapping());
    CHECK(root.line() == 2);
    CHECK(root.column() == 1);
    REQUIRE(root.size() == 2);
    CHECK(root.key(0).text() == "name");
    CHECK(root.value(0).text() == "ops");
    CHECK(root.value(0).line() == 2);
    CHECK(root.value(0).column() == 7);
    CHECK(root.key(1).text() == "hooks");
    auto hooks = root.value(1);
    REQUIRE(hooks.is_sequence());
    REQUIRE(hooks.size() == 2);
    auto first = hooks.item(0);
    REQUIRE(first.is_mapping());
    CHECK(first.line() == 4);
    CHECK(first.column() == 5);
    CHECK(first.value(0).text() == "https://h/x");
    CHECK(first.key(1).line() == 5);
    CHECK(first.value(1).text() == "3");
    auto flow = hooks.item(1);
    REQUIRE(flow.is_sequence());
    CHECK(flow.line() == 6);
    REQUIRE(flow.size() == 2);
    CHECK(flow.item(1).text() == "b c");
    CHECK(flow.item(1).column() == 9); // the opening quote
    // Kinds other than scalar have no text; kinds other than collections have no size.
    CHECK(hooks.text().empty());
    CHECK(root.value(0).size() == 0);
}

TEST_CASE("plain ~, null, Null, NULL and nothing are null - quoted or tagged they are text") {
    tree t("a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: ''\ng: '~'\nh: \"null\"\ni: !!str null\n"
           "j: nULL\nk: !!str\n");
    auto root = t.document(0);
    REQUIRE(root.size() == 11);
    for (std::size_t i = 0; i < 5; ++i) {
        CAPTURE(root.key(i).text());
        CHECK(root.value(i).is_null());
        CHECK(root.value(i).text().empty());
    }
    for (std::size_t i = 5; i < 11; ++i) {
        CAPTURE(root.key(i).text());
        CHECK(root.value(i).is_scalar());
    }
    CHECK(root.value(5).text().empty());
    CHECK(root.value(6).text() == "~");
    CHECK(root.value(8).text() == "null");
    CHECK(root.value(9).text() == "nULL");
    // Keys may be null too; the reader decides what that means.
    CHECK(tree("~: 1\n").document(0).key(0).is_null());
}

TEST_CASE("empty and null documents are left out - the others keep their order and lines") {
    CHECK(tree("").documents() == 0);
    CHECK(tree("# only a comment\n").documents() == 0);
    CHECK(tree("---\n---\n...\n--- ~\n--- null\n").documents() == 0);
    tree t("---\n# empty\n---\na: 1\n---\n~\n---\n- x\n");
    REQUIRE(t.documents() == 2);
    CHECK(t.document(0).is_mapping());
    CHECK(t.document(1).is_sequence());
    CHECK(t.document(1).line() == 8);
    CHECK(tree("--- text\n").document(0).text() == "text");
}

TEST_CASE("an alias is the node its anchor names, shared rather than copied") {
    tree t("base: &b {team: vision, tier: 1}\n"
           "one: *b\n"
           "ids: &ids [t1, t2]\n"
           "again: *ids\n"
           "name: &n ops\n"
           "copy: *n\n"
           "nothing: &z\n"
           "still: *z\n");
    auto root = t.document(0);
    REQUIRE(root.size() == 8);
    auto one = root.value(1);
    REQUIRE(one.is_mapping());
    CHECK(one.value(0).text() == "vision");
    CHECK(one.line() == 1); // the anchored node's place, not the alias's
    CHECK(root.value(3).size() == 2);
    CHECK(root.value(3).item(1).text() == "t2");
    CHECK(root.value(5).text() == "ops");
    CHECK(root.value(7).is_null());
    // The latest anchor of a name wins, also one inside the node that first had the name.
    tree later_tree("a: &x 1\nb: &x 2\nc: *x\nd: &y [&y 3]\ne: *y\n");
    auto later = later_tree.document(0);
    CHECK(later.value(2).text() == "2");
    CHECK(later.value(4).text() == "3");
}

TEST_CASE("an alias without its anchor, or inside the node it names, is an error there") {
    CHECK(error_of("a: *nowhere\n") ==
          "1:4: YAML syntax error: alias \"*nowhere\" names no anchor before it");
    CHECK(error_of("a: &x [1, *x]\n") ==
          "1:11: YAML syntax error: alias \"*x\" is inside the node it names");
    CHECK(error_of("a: &x {k: {deep: *x}}\n") ==
          "1:18: YAML syntax error: alias \"*x\" is inside the node it names");
    // Anchors belong to their document.
    CHECK(error_of("a: &x 1\n---\nb: *x\n") ==
          "3:4: YAML syntax error: alias \"*x\" names no anchor before it");
}

TEST_CASE("aliases may not expand the document beyond 8 times its text plus 1 MiB") {
    // "Billion laughs": ten of the previous level at each of nine levels.
    std::string bomb = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for (int i = 1; i <= 9; ++i) {
        const auto level = std::to_string(i);
        const auto prev = std::to_string(i - 1);
        bomb += "l" + level + ": &l" + level + " [";
        for (int k = 0; k < 10; ++k)
            bomb += (k ? ", *l" : "*l") + prev;
        bomb += "]\n";
    }
    const auto limit = std::to_string(8 * bomb.size() + (1 << 20));
    // Levels 0 to 4 expand to 456785 nodes and bytes of text, level 5 to 4111111: its second
    // alias crosses the limit.
    CHECK(error_of(bomb) == "6:15: YAML aliases expand the document beyond " + limit +
                                " nodes and bytes of text (8 times the text's size plus 1 MiB)");

    // Within the limit, aliases are fine however many there are.
    std::string many = "l: &l [a, b, c]\nall: [";
    for (int k = 0; k < 10'000; ++k)
        many += (k ? ", " : "") + std::string("*l");
    many += "]\n";
    tree t(many);
    auto all = t.document(0).value(1);
    REQUIRE(all.size() == 10'000);
    CHECK(all.item(9'999).item(2).text() == "c");
}

TEST_CASE("syntax errors carry libyaml's problem with the line and column") {
    CHECK(error_of("a: [1, 2\nb: 3\n") ==
          "2:2: YAML syntax error: did not find expected ',' or ']'");
    CHECK(error_of(",a: 1\n") == "1:1: YAML syntax error: did not find expected node content");
    CHECK(error_of("a: 1\n b: 2\n") ==
          "2:3: YAML syntax error: mapping values are not allowed in this context");
    CHECK(error_of("a:\n\t- b\n") ==
          "2:1: YAML syntax error: found character that cannot start any token");
    CHECK(error_of("a: \"open\n") == "2:1: YAML syntax error: found unexpected end of stream");
    // Columns count characters, whatever their bytes.
    CHECK(error_of("\xe6\x97\xa5\xe6\x9c\xac: [\n") ==
          "2:1: YAML syntax error: did not find expected node content");
    CHECK(error_of("\xe6\x97\xa5\xe6\x9c\xac: a: b\n") ==
          "1:6: YAML syntax error: mapping values are not allowed in this context");
}

TEST_CASE("deep nesting is refused with an error, not a crash") {
    const std::string deep(100'000, '[');
    CHECK(error_of(deep) == "1:1001: YAML nesting deeper than 1000 levels");
    CHECK(error_of(std::string(100'000, '{')) == "1:1001: YAML nesting deeper than 1000 levels");
    std::string block;
    for (int i = 0; i < 2'000; ++i)
        block += "- ";
    CHECK(error_of(block + "x\n") == "1:2001: YAML nesting deeper than 1000 levels");
    // At the limit itself it parses.
    tree t(std::string(1000, '[') + std::string(1000, ']'));
    auto n = t.document(0);
    for (int i = 1; i < 1000; ++i)
        n = n.item(0);
    CHECK(n.is_sequence());
    CHECK(n.size() == 0);
}

TEST_CASE("bytes libyaml refuses reach scalars as written - lines and columns stay right") {
    // Not UTF-8, a control character, DEL, a C1 control, U+FFFF; a comment holding 0xff.
    tree t("a: vi\xffsion\nb: \"x\x01y\x7fz\"\nc: '\xc2\x80 \xef\xbf\xbf'  # \xff\nd: ok\n");
    auto root = t.document(0);
    REQUIRE(root.size() == 4);
    CHECK(root.value(0).text() == "vi\xffsion");
    CHECK(root.value(1).text() == "x\x01y\x7fz");
    CHECK(root.value(2).text() == "\xc2\x80 \xef\xbf\xbf");
    CHECK(root.value(3).text() == "ok");
    CHECK(root.value(3).line() == 4);
    // A NUL is a byte like another; so is a byte in a key.
    tree nul(std::string_view("k\xfe: \0v\n", 7));
    CHECK(nul.document(0).key(0).text() == "k\xfe");
    CHECK(nul.document(0).value(0).text() == std::string_view("\0v", 2));
    // The code points standing in for those bytes pass through when written themselves.
    tree own("a: \xf4\x8f\xbd\x81 \xff\n");
    CHECK(own.document(0).value(0).text() == "\xf4\x8f\xbd\x81 \xff");
    // A byte order mark at the start is no content.
    tree bom("\xef\xbb\xbf"
             "a: 1\n");
    CHECK(bom.document(0).key(0).text() == "a");
    // One character per refused byte: the column after two of them.
    CHECK(error_of("a: \xff\xfe: b\n") ==
          "1:6: YAML syntax error: mapping values are not allowed in this context");
}
