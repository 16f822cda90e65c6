// modelarts-sim: parse the command line, run the simulator until SIGTERM/SIGINT.
#include "taskwatch/sim/simulator.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <exception>
#include <string_view>
#include <vector>

int main(int argc, char** argv) {
    using namespace taskwatch;
    std::vector<std::string_view> args(argv + 1, argv + argc);
    auto cl = sim::parse_command_line(args);
    if (!cl) {
        std::fprintf(stderr, "modelarts-sim: %s\n", cl.error().message.c_str());
        return cl.error().exit_code;
    }
    if (cl->help) {
        std::fwrite(sim::help_text().data(), 1, sim::help_text().size(), stdout);
        return 0;
    }
    if (cl->version) {
        std::puts("modelarts-sim " TASKWATCH_VERSION);
        return 0;
    }
    const auto& o = cl->options;
    if (!o.no_auth && o.keys.empty() && !o.iam)
        std::fprintf(
            stderr,
            "modelarts-sim: warning: no --ak, --credentials-file or --iam-user given and no "
            "--no-auth: every task API request will get 401\n");
    try {
        boost::asio::io_context io(1);
        sim::simulator simulator(io.get_executor(), cl->options);
        simulator.start();
        std::printf("listening on %s\n", simulator.url().c_str());
        std::fflush(stdout);

        boost::asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) return;
            simulator.stop([&io] { io.stop(); });
        });
        io.run();
        return 0;
    } catch (const sim::start_error& e) {
        std::fprintf(stderr, "modelarts-sim: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "modelarts-sim: %s\n", e.what());
        return 1;
    }
}
