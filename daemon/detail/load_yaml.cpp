#include "taskwatch/detail/load_yaml.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/node/parse.h>
#include <yaml-cpp/parser.h>

#include <sstream>
#include <string>

namespace taskwatch::detail {

namespace {

// Keeps only where each document starts.
class document_starts : public YAML::EventHandler {
public:
    YAML::Mark start;
    void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

} // namespace

std::vector<YAML::Node> load_all_yaml(std::string_view text) {
    const std::string copy(text);
    {
        // A first pass over the events alone: two documents starting at the same place mean
        // the parser is not moving, and LoadAll would go on forever.
        std::istringstream in(copy);
        YAML::Parser parser(in);
        document_starts h;
        int last = -1;
        while (parser.HandleNextDocument(h)) {
            if (h.start.pos <= last) {
                const auto at = static_cast<std::size_t>(h.start.pos);
                const char c = at < copy.size() ? copy[at] : '?';
                throw YAML::ParserException(h.start, c > ' ' && c < 127
                                                         ? std::string("unexpected '") + c + "'"
                                                         : std::string("unexpected character"));
            }
            last = h.start.pos;
        }
    }
    return YAML::LoadAll(copy);
}

} // namespace taskwatch::detail
