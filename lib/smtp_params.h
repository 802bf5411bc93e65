// smtp_params.h: the ESMTP parameters of MAIL FROM and RCPT TO (SIZE, BODY, SMTPUTF8,
// RET, ENVID, AUTH; NOTIFY, ORCPT), each checked against its RFC grammar and against what
// the server offers. Used by smtp_command.cpp; an error carries the reply to send.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "smtp_command.h"

namespace postern {

// Parses MAIL parameters ("KEY=VALUE" or "KEY" words) into params; returns the refusal,
// or nothing when all are good.
std::optional<CommandError> parseMailParameters(const std::vector<std::string_view>& words,
                                                const CommandContext& context, MailParameters& params);

// Parses RCPT parameters into params; returns the refusal, or nothing when all are good.
std::optional<CommandError> parseRcptParameters(const std::vector<std::string_view>& words,
                                                const CommandContext& context, RcptParameters& params);

// The reply for a parameter the server does not know or does not offer.
CommandError unsupportedOption(Verb verb, std::string_view word);

}  // namespace postern
