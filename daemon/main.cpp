// taskwatchd: thin; everything lives in the library (daemon/app).
#include "taskwatch/app/cli.hpp"
#include "taskwatch/app/commands.hpp"
#include "taskwatch/app/daemon.hpp"

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    using namespace taskwatch::app;
    // A closed stderr or stdout pipe (a log collector that died, `taskwatchd get | head -c1`)
    // must cost the lines written to it, not the process: writes then fail with EPIPE, which
    // the log writer and `get` handle. Sockets need no such help (Asio sends MSG_NOSIGNAL).
    std::signal(SIGPIPE, SIG_IGN);
    std::vector<std::string> args(argv + 1, argv + argc);
    auto opts = parse_cli(args);
    if (!opts) {
        std::fprintf(stderr, "taskwatchd: %s\n%s", opts.error().c_str(), usage().c_str());
        return 2;
    }
    switch (opts->what) {
    case cli_options::mode::version:
        std::printf("taskwatchd %s\n", TASKWATCH_VERSION);
        return 0;
    case cli_options::mode::help:
        std::printf("%s", usage().c_str());
        return 0;
    case cli_options::mode::get:
        return run_get(*opts);
    case cli_options::mode::outbox_list:
        return run_outbox_list(*opts);
    case cli_options::mode::outbox_redeliver:
        return run_outbox_redeliver(*opts);
    case cli_options::mode::status:
        return run_status(*opts);
    case cli_options::mode::check_config:
        return run_check_config(*opts);
    case cli_options::mode::run:
        return run_daemon(*opts);
    case cli_options::mode::demo:
        return run_demo(*opts);
    }
    return 2;
}
