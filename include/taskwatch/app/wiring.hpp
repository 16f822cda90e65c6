// Building the ModelArts clients from settings: shared by `get` and the daemon.
#pragma once

#include "taskwatch/auth/authorizer.hpp"
#include "taskwatch/config/settings.hpp"
#include "taskwatch/http/client.hpp"
#include "taskwatch/modelarts/api_client.hpp"

#include <memory>

namespace taskwatch::app {

/// HTTP client options from `modelarts:`. Throws config::config_error for a bad ca_file.
http::client_options client_options_from(const config::settings& s);

/// The authorizer for `modelarts.auth`.
std::unique_ptr<auth::authorizer> make_authorizer(const config::settings& s, http::client& client);

/// The API client for one target (its endpoint and project override the account's).
std::unique_ptr<modelarts::api_client> make_api_client(const config::settings& s,
                                                       const config::target* t,
                                                       http::client& client,
                                                       auth::authorizer& auth);

} // namespace taskwatch::app
