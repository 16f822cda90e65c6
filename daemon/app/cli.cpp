#include "taskwatch/app/cli.hpp"

namespace taskwatch::app {

std::string usage() {
    return "usage:\n"
           "  taskwatchd --config FILE              run (foreground; systemd Type=notify)\n"
           "  taskwatchd --config FILE --check-config\n"
           "  taskwatchd --config FILE --shard I/N  watch only shard I of N (also shard: in the "
           "config)\n"
           "  taskwatchd --demo [--listen ADDR]     run against an in-process simulator\n"
           "  taskwatchd get --config FILE --dataset D --task T   one GET, print JSON\n"
           "  taskwatchd outbox list --config FILE [--dead] [--webhook NAME]\n"
           "  taskwatchd outbox redeliver --config FILE (ID... | --all-dead) [--webhook NAME]\n"
           "  taskwatchd status --config FILE       the watched tasks: status, progress, ETA\n"
           "  taskwatchd --version\n";
}

expected<cli_options, std::string> parse_cli(const std::vector<std::string>& args) {
    cli_options o;
    bool check = false, demo = false, version = false, help = false, get = false, status = false;
    std::optional<cli_options::mode> outbox;
    std::size_t i = 0;
    if (!args.empty() && args[0] == "get") {
        get = true;
        i = 1;
    } else if (!args.empty() && args[0] == "status") {
        status = true;
        i = 1;
    } else if (!args.empty() && args[0] == "outbox") {
        if (args.size() < 2 || (args[1] != "list" && args[1] != "redeliver"))
            return unexpected(std::string("outbox needs list or redeliver"));
        outbox = args[1] == "list" ? cli_options::mode::outbox_list
                                   : cli_options::mode::outbox_redeliver;
        i = 2;
    }
    auto value = [&](const std::string& flag) -> expected<std::string, std::string> {
        if (i + 1 >= args.size()) return unexpected(flag + " needs a value");
        return args[++i];
    };
    for (; i < args.size(); ++i) {
        const auto& a = args[i];
        std::string flag = a, inline_value;
        bool has_inline = false;
        if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            flag = a.substr(0, eq);
            inline_value = a.substr(eq + 1);
            has_inline = true;
        }
        auto take = [&](std::string& into) -> std::optional<std::string> {
            if (has_inline) {
                into = inline_value;
                return std::nullopt;
            }
            auto v = value(flag);
            if (!v) return v.error();
            into = *v;
            return std::nullopt;
        };
        std::optional<std::string> err;
        if (flag == "--config" || flag == "-c")
            err = take(o.config_path);
        else if (flag == "--check-config")
            check = true;
        else if (flag == "--demo")
            demo = true;
        else if (flag == "--listen") {
            std::string l;
            err = take(l);
            o.listen = l;
        } else if (flag == "--dataset" && get)
            err = take(o.dataset_id);
        else if (flag == "--task" && get)
            err = take(o.task_id);
        else if (flag == "--webhook" && outbox) {
            std::string w;
            err = take(w);
            o.webhook = w;
        } else if (flag == "--dead" && outbox == cli_options::mode::outbox_list)
            o.dead = true;
        else if (flag == "--all-dead" && outbox == cli_options::mode::outbox_redeliver)
            o.all_dead = true;
        else if (outbox == cli_options::mode::outbox_redeliver && !a.empty() && a[0] != '-')
            o.event_ids.push_back(a);
        else if (flag == "--shard") {
            std::string text;
            err = take(text);
            if (!err) {
                auto sh = task::parse_shard(text);
                if (!sh) return unexpected("--shard: " + sh.error());
                o.shard = *sh;
            }
        } else if (flag == "--version" || flag == "-V")
            version = true;
        else if (flag == "--help" || flag == "-h")
            help = true;
        else
            return unexpected("unknown argument '" + a + "'");
        if (err) return unexpected(*err);
    }
    if (help) return o;
    if (o.shard && (version || outbox || get || demo))
        return unexpected(
            std::string("--shard goes with --config FILE (running or --check-config)"));
    if (version) {
        o.what = cli_options::mode::version;
        return o;
    }
    if (outbox) {
        if (o.config_path.empty()) return unexpected(std::string("outbox needs --config FILE"));
        if (*outbox == cli_options::mode::outbox_redeliver) {
            if (o.all_dead && !o.event_ids.empty())
                return unexpected(std::string("give event IDs or --all-dead, not both"));
            if (!o.all_dead && o.event_ids.empty())
                return unexpected(std::string("outbox redeliver needs event IDs or --all-dead"));
        }
        o.what = *outbox;
        return o;
    }
    if (status) {
        if (o.config_path.empty()) return unexpected(std::string("status needs --config FILE"));
        if (check || demo || o.listen)
            return unexpected(std::string("status takes only --config FILE"));
        o.what = cli_options::mode::status;
        return o;
    }
    if (get) {
        if (o.config_path.empty()) return unexpected(std::string("get needs --config FILE"));
        if (o.dataset_id.empty()) return unexpected(std::string("get needs --dataset D"));
        if (o.task_id.empty()) return unexpected(std::string("get needs --task T"));
        o.what = cli_options::mode::get;
        return o;
    }
    if (demo) {
        if (check) return unexpected(std::string("--demo and --check-config do not go together"));
        o.what = cli_options::mode::demo;
        return o;
    }
    if (o.listen)
        return unexpected(
            std::string("--listen goes with --demo (else set listen: in the config)"));
    if (o.config_path.empty()) return unexpected(std::string("--config FILE is required"));
    o.what = check ? cli_options::mode::check_config : cli_options::mode::run;
    return o;
}

} // namespace taskwatch::app
