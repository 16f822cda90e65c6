#include "support/observations.hpp"

#include "taskwatch/modelarts/model.hpp"

#include <stdexcept>
#include <string>

namespace taskwatch::test {

task::observation observation_of(std::string_view body) {
    auto t = modelarts::parse_task(body);
    if (!t) throw std::runtime_error("the body is refused: " + t.error().to_string());
    auto o = task::observe(*t);
    if (!o) throw std::runtime_error("no observation of " + std::string(body));
    return *o;
}

} // namespace taskwatch::test
