// Headless Chromium for the page tests: the DOM after scripts ran (--dump-dom) and screenshots
// at a window size in light or dark colours, and the folder the suite keeps screenshots in.
#pragma once

#include "support/files.hpp"

#include <chrono>
#include <string>

namespace taskwatch::test {

/// Where a page should be looked at: window size and colour scheme.
struct viewport {
    int width = 1280;
    int height = 900;
    bool dark = false;        ///< prefers-color-scheme: dark (Blink's preferredColorScheme setting)
    std::string name() const; ///< "desktop-light", "phone-dark", ... (width under 600: phone)
};

/// Headless Chromium with a profile of its own (in a temporary folder, removed with it).
class browser {
public:
    /// Throws std::runtime_error when /usr/bin/chromium is missing, naming its Debian package.
    browser();
    /// The DOM of `url` once loaded, as --dump-dom prints it; with `virtual_time`, after that
    /// much of Chromium's virtual time (timers fire without waiting for them). Throws
    /// std::runtime_error when Chromium fails.
    std::string dom(const std::string& url, const viewport& v = {},
                    std::chrono::milliseconds virtual_time = {}) const;
    /// Saves a PNG of `url` at `v` to `png_file`. Throws std::runtime_error when Chromium fails
    /// or writes no PNG.
    void screenshot(const std::string& url, const viewport& v, const std::string& png_file) const;

private:
    temp_dir dir_{"chromium"};
};

/// Width and height of a PNG file (its IHDR); {0, 0} when it is not a PNG.
std::pair<unsigned, unsigned> png_size(const std::string& png_file);

/// The suite's artefact folder for screenshots, created if missing:
/// $TASKWATCH_ARTIFACTS/screenshots, by default build/artifacts/screenshots.
std::string screenshot_dir();

} // namespace taskwatch::test
