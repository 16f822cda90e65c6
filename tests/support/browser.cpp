#include "support/browser.hpp"

#include "support/process.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace taskwatch::test {

namespace {

constexpr const char* chromium = "/usr/bin/chromium";

std::vector<std::string> common_args(const std::string& profile, const viewport& v) {
    return {"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--hide-scrollbars", "--no-first-run", "--user-data-dir=" + profile,
            "--window-size=" + std::to_string(v.width) + "," + std::to_string(v.height),
            // Blink's preferredColorScheme: 0 dark, 1 light (Chromium 156 honours it headless;
            // without it the host's setting would decide).
            std::string("--blink-settings=preferredColorScheme=") + (v.dark ? "0" : "1")};
}

} // namespace

std::string viewport::name() const {
    return std::string(width < 600 ? "phone" : "desktop") + (dark ? "-dark" : "-light");
}

browser::browser() {
    if (!std::filesystem::exists(chromium))
        throw std::runtime_error(std::string(chromium) +
                                 " is missing: install the Debian package 'chromium' "
                                 "(scripts/install-deps.sh --test)");
}

std::string browser::dom(const std::string& url, const viewport& v,
                         std::chrono::milliseconds virtual_time) const {
    auto args = common_args(dir_.file("profile"), v);
    if (virtual_time.count() > 0)
        args.push_back("--virtual-time-budget=" + std::to_string(virtual_time.count()));
    args.push_back("--dump-dom");
    args.push_back(url);
    const auto r = run_command(chromium, args, {{"HOME", dir_.str()}}, std::chrono::seconds(90));
    if (r.status != 0)
        throw std::runtime_error("chromium --dump-dom " + url + " exited " +
                                 std::to_string(r.status) + ": " + r.err);
    return r.out;
}

void browser::screenshot(const std::string& url, const viewport& v,
                         const std::string& png_file) const {
    auto args = common_args(dir_.file("profile"), v);
    args.push_back("--screenshot=" + png_file);
    args.push_back(url);
    std::filesystem::remove(png_file);
    const auto r = run_command(chromium, args, {{"HOME", dir_.str()}}, std::chrono::seconds(90));
    if (r.status != 0 || png_size(png_file).first == 0)
        throw std::runtime_error("chromium --screenshot " + url + " exited " +
                                 std::to_string(r.status) + " without a PNG: " + r.err);
}

std::pair<unsigned, unsigned> png_size(const std::string& png_file) {
    std::string png;
    try {
        png = read_file(png_file);
    } catch (const std::exception&) {
        return {0, 0};
    }
    if (png.size() < 24 || png.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) != 0)
        return {0, 0};
    auto be32 = [&](std::size_t at) {
        unsigned v = 0;
        for (std::size_t i = 0; i < 4; ++i)
            v = (v << 8) | static_cast<unsigned char>(png[at + i]);
        return v;
    };
    return {be32(16), be32(20)};
}

std::string screenshot_dir() {
    const char* env = std::getenv("TASKWATCH_ARTIFACTS");
    const std::filesystem::path root = env && *env ? env : TASKWATCH_ARTIFACTS_DIR;
    const auto dir = root / "screenshots";
    std::filesystem::create_directories(dir);
    return dir.string();
}

} // namespace taskwatch::test
