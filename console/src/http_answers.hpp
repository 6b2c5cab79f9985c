#pragma once
// How the console answers: JSON bodies, the one error shape, files streamed from
// disk, and the small HTML page a browser gets when a navigation (a launch link,
// a missing page file) cannot be served.
#include <filesystem>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace volnode::console {

void answerJson(httplib::Response& res, const nlohmann::json& body, int status = 200);

// Every error of the API and of its files: {"error": "<why, for a person>", "status": <HTTP status>},
// with `details` (an object) merged in where the caller has more to say, e.g. the
// state of a retrieval the page waits for.
void answerError(httplib::Response& res, int status, const std::string& message,
                 const nlohmann::json& details = nlohmann::json::object());

// A page of its own for the browser: title, message and a link to the dashboard.
void answerHtmlMessage(httplib::Response& res, int status, const std::string& title, const std::string& message);

// Streams the file (results can be tens of MB); a 404 error when it is not there.
// `download_name` non-empty: offered as a download under that name.
void answerFile(httplib::Response& res, const std::filesystem::path& path, const std::string& content_type,
                const std::string& download_name);

}  // namespace volnode::console
