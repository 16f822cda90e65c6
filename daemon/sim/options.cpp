#include "taskwatch/sim/options.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace taskwatch::sim {
namespace {

constexpr std::string_view help =
    R"(modelarts-sim: a ModelArts (and IAM) simulator for taskwatch tests, demos and benchmarks.

Usage: modelarts-sim [--listen ADDR] (--self-signed DIR | --cert FILE --key FILE | --plain) [options]

On start it prints one line, "listening on https://HOST:PORT", and serves until SIGTERM/SIGINT.

Listener
  --listen ADDR               host:port, [v6]:port or :port (default 127.0.0.1:0, a free port)
  --self-signed DIR           generate a CA and a server certificate for 127.0.0.1/::1/localhost
                              into DIR (DIR/ca.pem is what clients trust)
  --cert FILE --key FILE      PEM certificate chain and private key (TLS 1.2+)
  --plain                     plain HTTP (no TLS)
  --max-connections N         concurrent connections (default 1024)
  --request-timeout DURATION  deadline to read one request, also the keep-alive idle time (30s)
  --body-limit BYTES          largest request body (1048576)
  --split-writes              send each API answer's head and body in separate writes (the
                              body as one chunk of a chunked answer), as gateways that stream
                              do: two TLS records and TCP segments, two wake-ups for a client

World
  --project-id ID             project of the datasets (repeat for several; datasets are dealt
                              to them in turn; default 0123456789abcdef0123456789abcdef)
  --tasks N                   synthetic tasks at start (default 20)
  --datasets N                datasets they are spread over (default 3)
  --seed N                    ids and lifecycles are a function of the seed (default 1)
  --phase-seconds X           lifecycle time unit: queuing ~0.3-1.5 X, initializing ~0.3-1 X,
                              running ~3-8 X (default 10)
  --static                    tasks never move on their own (benchmarks, deterministic tests)
  --spawn-rate R              add R new tasks per second (default 0)
  --transition-log N          status transitions kept for GET /sim/transitions; beyond N the
                              oldest are dropped and counted (default 100000, about 100 bytes
                              each)
  --list-offset-mode M        list API offset counts "items" (default) or "pages"

Authentication (the task APIs need a valid AK/SK signature or X-Auth-Token)
  --ak AK --sk-file FILE      an accepted access key pair (repeat the pair for more)
  --security-token-file FILE  the preceding --ak is temporary: requests must carry and sign
                              this X-Security-Token
  --credentials-file FILE     lines "AK SK [SECURITY_TOKEN]" ('#' starts a comment)
  --iam-user NAME --iam-domain NAME --iam-password-file FILE
                              the user POST /v3/auth/tokens accepts
  --token-ttl DURATION        lifetime of issued tokens (default 24h)
  --no-auth                   accept requests without credentials

Faults
  --fault KIND:WHEN[:OPTS]    WHEN is a ratio ("0.05") or "xN" (the next N requests);
                              OPTS: path=SUBSTRING,delay=DURATION,retry_after=SECONDS;
                              delay=MIN..MAX waits a uniform random time in that range
                              e.g. --fault 429-retry-after:x3:retry_after=2 --fault latency:0.1:delay=200ms
                                   --fault latency:1:delay=30ms..100ms
  --fault-seed N              seed of the fault dice (default: from --seed)
  Kinds: latency (delay or range, combines with the rest), 429 (APIGW.0308), 429-retry-after,
         500 (ModelArts.0010), 502 (APIGW.0202), 503 (ModelArts.2951),
         not-found (400 ModelArts.4338), malformed-json (200 with cut JSON),
         truncate (body cut, then close), reset (TCP RST), hang (never answer),
         tls-handshake (per connection: closed during the handshake)

APIs
  GET  /v2/{project_id}/datasets/{dataset_id}/tasks/{task_id}
  GET  /v2/{project_id}/datasets/{dataset_id}/tasks?limit=1..100&offset=&type=&task_name=
  POST /v3/auth/tokens        IAM password authentication, 201 + X-Subject-Token

Control endpoints (loopback peers only; JSON; no auth, no faults)
  GET    /sim/tasks                   every task with project, dataset, type, state
  POST   /sim/tasks                   add one: {"dataset_id","project_id","task_id","task_name",
                                      "type","fate":"succeed|fail|stop", plus state fields}
  GET    /sim/tasks/{task_id}         one task
  PATCH  /sim/tasks/{task_id}         set fields: status (name or number, any number is served
                                      as is), progress (null: left out of GET), code,
                                      message, error_code, error_msg, elapsed_time, task_name,
                                      total/annotated/unconfirmed_sample_count; the task then
                                      stays as set ("frozen":false lets it move on)
  DELETE /sim/tasks/{task_id}         remove it (GET then answers 400 ModelArts.4338)
  GET    /sim/datasets                datasets with their project and task count
  GET    /sim/faults                  active fault rules
  POST   /sim/faults                  add a rule: {"kind":"429","ratio":0.1} or
                                      {"kind":"hang","count":2,"path":"/tasks/x"}, "delay_ms",
                                      "delay_max_ms", "delay" ("30ms..100ms"), "retry_after";
                                      or {"faults":[...]}
  DELETE /sim/faults                  remove every rule
  GET    /sim/stats                   requests by kind and status, rate, CPU seconds, connections,
                                      faults by request kind
  DELETE /sim/stats                   zero the request counters
  GET    /sim/transitions?since=SEQ   every status change the world made, oldest first:
                                      {"transitions":[{"seq","task_id","from","to","at_ms",
                                      "served"}],"recorded","dropped","capacity"}; a lifecycle
                                      step counts at its planned time even when no request saw
                                      it, a PATCH of status at its time; served: a GET of the
                                      task has answered intact with status "to"; since: only
                                      seq > SEQ
  DELETE /sim/transitions             forget the recorded transitions (seq goes on)
  POST   /sim/tokens/expire           make every issued token expire now

  --help, --version
)";

std::string read_secret_file(const std::string& path, const char* flag, bool& ok,
                             std::string& err) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ok = false;
        err = std::string(flag) + " '" + path + "': cannot open: " + std::strerror(errno);
        return {};
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() &&
           (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
        s.pop_back();
    if (s.empty()) {
        ok = false;
        err = std::string(flag) + " '" + path + "': the file is empty";
    }
    return s;
}

template <class Int> bool parse_int(std::string_view s, Int& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc{} && p == s.data() + s.size();
}

bool parse_double(std::string_view s, double& out) {
    std::string copy(s);
    char* end = nullptr;
    out = std::strtod(copy.c_str(), &end);
    return !copy.empty() && end == copy.c_str() + copy.size() && std::isfinite(out);
}

} // namespace

std::string_view help_text() noexcept {
    return help;
}

expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view s) {
    auto bad = [&] {
        std::string why = "'"; // built step by step: GCC 12 misreads "lit" + string&&
        why += s;
        why += "' is not a duration like 500ms, 15s, 10m, 24h";
        return unexpected(std::move(why));
    };
    if (s.empty()) return bad();
    double total_ms = 0;
    std::string_view rest = s;
    while (!rest.empty()) {
        std::size_t n = 0;
        while (n < rest.size() && ((rest[n] >= '0' && rest[n] <= '9') || rest[n] == '.'))
            ++n;
        if (n == 0) return bad();
        double value = 0;
        if (!parse_double(rest.substr(0, n), value)) return bad();
        rest.remove_prefix(n);
        std::size_t u = 0;
        while (u < rest.size() && rest[u] >= 'a' && rest[u] <= 'z')
            ++u;
        auto unit = rest.substr(0, u);
        rest.remove_prefix(u);
        double scale = 0;
        if (unit == "ms")
            scale = 1;
        else if (unit == "s")
            scale = 1e3;
        else if (unit == "m")
            scale = 60e3;
        else if (unit == "h")
            scale = 3600e3;
        else if (unit == "d")
            scale = 86400e3;
        else if (unit == "w")
            scale = 7 * 86400e3;
        else
            return bad();
        total_ms += value * scale;
    }
    return std::chrono::milliseconds(std::llround(total_ms));
}

expected<command_line, command_line_error>
parse_command_line(const std::vector<std::string_view>& args) {
    command_line out;
    auto& o = out.options;
    auto usage = [](std::string msg) { return unexpected(command_line_error{2, std::move(msg)}); };
    auto file_error = [](std::string msg) {
        return unexpected(command_line_error{1, std::move(msg)});
    };
    bool projects_given = false;
    bool pending_ak = false; // an --ak still waiting for its --sk-file

    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        std::string_view value;
        bool has_inline = false;
        if (auto eq = arg.find('='); arg.substr(0, 2) == "--" && eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_inline = true;
        }
        auto flag = std::string(arg);
        auto take = [&]() -> std::optional<std::string_view> {
            if (has_inline) return value;
            if (i + 1 >= args.size()) return std::nullopt;
            return args[++i];
        };
        auto need = [&](std::string_view& v) {
            auto t = take();
            if (!t) return false;
            v = *t;
            return true;
        };
        auto no_value = [&] { return !has_inline; };

        std::string_view v;
        if (flag == "--help" || flag == "-h") {
            out.help = true;
        } else if (flag == "--version") {
            out.version = true;
        } else if (flag == "--static") {
            if (!no_value()) return usage("--static takes no value");
            o.static_world = true;
        } else if (flag == "--plain") {
            o.plain = true;
        } else if (flag == "--no-auth") {
            o.no_auth = true;
        } else if (flag == "--split-writes") {
            if (!no_value()) return usage("--split-writes takes no value");
            o.split_writes = true;
        } else if (flag == "--listen" || flag == "--cert" || flag == "--key" ||
                   flag == "--self-signed" || flag == "--project-id" || flag == "--tasks" ||
                   flag == "--datasets" || flag == "--seed" || flag == "--phase-seconds" ||
                   flag == "--transition-log" || flag == "--spawn-rate" ||
                   flag == "--list-offset-mode" || flag == "--ak" || flag == "--sk-file" ||
                   flag == "--security-token-file" || flag == "--credentials-file" ||
                   flag == "--iam-user" || flag == "--iam-domain" ||
                   flag == "--iam-password-file" || flag == "--token-ttl" || flag == "--fault" ||
                   flag == "--fault-seed" || flag == "--max-connections" ||
                   flag == "--request-timeout" || flag == "--body-limit") {
            if (!need(v)) return usage(flag + " needs a value");
            const std::string val(v);
            if (flag == "--listen") {
                o.listen = val;
            } else if (flag == "--cert") {
                o.cert_file = val;
            } else if (flag == "--key") {
                o.key_file = val;
            } else if (flag == "--self-signed") {
                o.self_signed_dir = val;
            } else if (flag == "--project-id") {
                if (val.empty()) return usage("--project-id must not be empty");
                if (!projects_given) o.world.project_ids.clear();
                projects_given = true;
                o.world.project_ids.push_back(val);
            } else if (flag == "--tasks") {
                if (!parse_int(v, o.world.tasks))
                    return usage("--tasks '" + val + "' is not a count");
            } else if (flag == "--datasets") {
                if (!parse_int(v, o.world.datasets) || o.world.datasets == 0)
                    return usage("--datasets '" + val + "' is not a count >= 1");
            } else if (flag == "--seed") {
                if (!parse_int(v, o.world.seed))
                    return usage("--seed '" + val + "' is not an unsigned integer");
            } else if (flag == "--fault-seed") {
                if (!parse_int(v, o.fault_seed))
                    return usage("--fault-seed '" + val + "' is not an unsigned integer");
            } else if (flag == "--phase-seconds") {
                double s = 0;
                if (!parse_double(v, s) || s <= 0)
                    return usage("--phase-seconds '" + val + "' is not a positive number");
                o.world.phase =
                    std::chrono::milliseconds(std::max<long long>(1, std::llround(s * 1000)));
            } else if (flag == "--transition-log") {
                if (!parse_int(v, o.world.transition_log_capacity))
                    return usage("--transition-log '" + val + "' is not a count");
            } else if (flag == "--spawn-rate") {
                if (!parse_double(v, o.spawn_rate) || o.spawn_rate < 0)
                    return usage("--spawn-rate '" + val +
                                 "' is not a rate >= 0 (tasks per second)");
            } else if (flag == "--list-offset-mode") {
                if (val == "items")
                    o.list_offset = offset_mode::items;
                else if (val == "pages")
                    o.list_offset = offset_mode::pages;
                else
                    return usage("--list-offset-mode '" + val + "': expected items or pages");
            } else if (flag == "--ak") {
                if (pending_ak) return usage("--ak '" + o.keys.back().ak + "' has no --sk-file");
                if (val.empty()) return usage("--ak must not be empty");
                o.keys.push_back(access_key{val, {}, std::nullopt});
                pending_ak = true;
            } else if (flag == "--sk-file") {
                if (!pending_ak) return usage("--sk-file must follow an --ak");
                bool ok = true;
                std::string err;
                auto sk = read_secret_file(val, "--sk-file", ok, err);
                if (!ok) return file_error(err);
                o.keys.back().sk = detail::secret(std::move(sk));
                pending_ak = false;
            } else if (flag == "--security-token-file") {
                if (o.keys.empty()) return usage("--security-token-file must follow an --ak");
                bool ok = true;
                std::string err;
                auto token = read_secret_file(val, "--security-token-file", ok, err);
                if (!ok) return file_error(err);
                o.keys.back().security_token = detail::secret(std::move(token));
            } else if (flag == "--credentials-file") {
                bool ok = true;
                std::string err;
                auto text = read_secret_file(val, "--credentials-file", ok, err);
                if (!ok) return file_error(err);
                std::istringstream lines(text);
                std::string line;
                int number = 0;
                while (std::getline(lines, line)) {
                    ++number;
                    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
                    std::istringstream fields(line);
                    std::string ak, sk, token, extra;
                    if (!(fields >> ak)) continue;
                    if (!(fields >> sk) || (fields >> token && fields >> extra))
                        return file_error("--credentials-file '" + val + "' line " +
                                          std::to_string(number) +
                                          ": expected \"AK SK [SECURITY_TOKEN]\"");
                    access_key k{ak, detail::secret(std::move(sk)), std::nullopt};
                    if (!token.empty()) k.security_token = detail::secret(std::move(token));
                    o.keys.push_back(std::move(k));
                }
            } else if (flag == "--iam-user") {
                if (!o.iam) o.iam.emplace();
                o.iam->name = val;
            } else if (flag == "--iam-domain") {
                if (!o.iam) o.iam.emplace();
                o.iam->domain = val;
            } else if (flag == "--iam-password-file") {
                if (!o.iam) o.iam.emplace();
                bool ok = true;
                std::string err;
                auto pw = read_secret_file(val, "--iam-password-file", ok, err);
                if (!ok) return file_error(err);
                o.iam->password = detail::secret(std::move(pw));
            } else if (flag == "--token-ttl") {
                auto d = parse_duration(v);
                if (!d || d->count() < 1000)
                    return usage("--token-ttl '" + val + "': expected a duration of at least 1s");
                o.token_ttl = std::chrono::duration_cast<std::chrono::seconds>(*d);
            } else if (flag == "--fault") {
                auto f = parse_fault_spec(v);
                if (!f) return usage(f.error());
                o.faults.push_back(std::move(*f));
            } else if (flag == "--max-connections") {
                if (!parse_int(v, o.max_connections) || o.max_connections == 0)
                    return usage("--max-connections '" + val + "' is not a count >= 1");
            } else if (flag == "--request-timeout") {
                auto d = parse_duration(v);
                if (!d || d->count() <= 0)
                    return usage("--request-timeout: " +
                                 (d ? std::string("must be > 0") : d.error()));
                o.request_timeout = *d;
            } else if (flag == "--body-limit") {
                if (!parse_int(v, o.body_limit) || o.body_limit == 0)
                    return usage("--body-limit '" + val + "' is not a byte count >= 1");
            }
        } else {
            return usage("unknown argument '" + std::string(args[i]) + "' (see --help)");
        }
    }
    if (out.help || out.version) return out;
    if (pending_ak) return usage("--ak '" + o.keys.back().ak + "' has no --sk-file");
    if (o.iam && (o.iam->name.empty() || o.iam->domain.empty() || o.iam->password.empty()))
        return usage(
            "IAM authentication needs all of --iam-user, --iam-domain and --iam-password-file");
    const int tls_choices =
        (o.self_signed_dir ? 1 : 0) + (o.cert_file || o.key_file ? 1 : 0) + (o.plain ? 1 : 0);
    if (tls_choices != 1)
        return usage("choose exactly one of --self-signed DIR, --cert FILE --key FILE, --plain");
    if ((o.cert_file && !o.key_file) || (!o.cert_file && o.key_file))
        return usage("--cert and --key go together");
    if (o.fault_seed == 0) o.fault_seed = o.world.seed ^ 0xFA17;
    return out;
}

} // namespace taskwatch::sim
