// commands.h: the MAIL FROM and RCPT TO lines the client sends, with the ESMTP parameters
// the server offered and the message needs: SIZE (RFC 1870), BODY=8BITMIME (RFC 6152),
// SMTPUTF8 (RFC 6531), and RET/ENVID/NOTIFY/ORCPT (RFC 3461) only when the server offers
// DSN. Without 8BITMIME on the server, an 8-bit message goes out as it is and without BODY=,
// as Postfix does when it does not convert (no MIME downgrade here).
#pragma once

#include <optional>
#include <string>

#include "delivery_protocol.h"
#include "smtp_reply.h"

namespace postern::smtp {

// "MAIL FROM:<sender> SIZE=n BODY=8BITMIME ...\r\n"; esmtp false (after HELO): no parameters.
std::string mailCommand(const delivery_protocol::DeliveryRequest& request,
                        const ServerCapabilities& caps, bool esmtp);

// "RCPT TO:<address> NOTIFY=... ORCPT=...\r\n".
std::string rcptCommand(const delivery_protocol::RequestRecipient& recipient,
                        const ServerCapabilities& caps, bool esmtp);

// The ORCPT value to send for a stored "type;value": kept when the value is already valid
// xtext (rfc822) or utf-8-addr-xtext (utf-8), else encoded; nothing when unusable.
std::optional<std::string> orcptParameter(const std::string& stored);

// True when an envelope address can go between < and > on a command line: no control
// characters, no angle brackets, at most 1000 bytes (queue files come from our own smtpd,
// but a line break here would let an address inject commands).
bool isSendableAddress(const std::string& address);

}  // namespace postern::smtp
