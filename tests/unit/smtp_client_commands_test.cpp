// smtp_client_commands_test.cpp: unit tests for smtp/commands: the MAIL and RCPT lines with
// the parameters the server offers and the message needs, and ORCPT encoding.
#include "smtp/commands.h"
#include "queue_types.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtp;

namespace {

delivery_protocol::DeliveryRequest request() {
    delivery_protocol::DeliveryRequest r;
    r.sender = "s@a.example";
    r.contentLength = 1234;
    r.bodyType = "8BITMIME";
    r.smtputf8 = true;
    r.ret = "HDRS";
    r.envid = "id 1+";
    return r;
}

ServerCapabilities everything() {
    ServerCapabilities caps;
    caps.size = caps.eightBitMime = caps.smtputf8 = caps.dsn = caps.pipelining = true;
    return caps;
}

}  // namespace

TEST_GROUP(SmtpClientCommands){};

TEST(SmtpClientCommands, MailCarriesWhatTheServerOffers) {
    STRCMP_EQUAL("MAIL FROM:<s@a.example> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+201+2B\r\n",
                 mailCommand(request(), everything(), true).c_str());
    ServerCapabilities bare;
    STRCMP_EQUAL("MAIL FROM:<s@a.example>\r\n", mailCommand(request(), bare, true).c_str());
    // After HELO nothing is offered, whatever the capabilities say.
    STRCMP_EQUAL("MAIL FROM:<s@a.example>\r\n", mailCommand(request(), everything(), false).c_str());
    auto nullSender = request();
    nullSender.sender.clear();
    nullSender.bodyType = "7BIT";
    nullSender.smtputf8 = false;
    nullSender.ret.clear();
    nullSender.envid.clear();
    STRCMP_EQUAL("MAIL FROM:<> SIZE=1234\r\n", mailCommand(nullSender, everything(), true).c_str());
}

TEST(SmtpClientCommands, RcptCarriesNotifyAndOrcptOnlyWithDsn) {
    delivery_protocol::RequestRecipient rcpt{0, "r@b.example", "rfc822;R@b.example",
                                             queue::kNotifySuccess | queue::kNotifyDelay};
    STRCMP_EQUAL("RCPT TO:<r@b.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;R@b.example\r\n",
                 rcptCommand(rcpt, everything(), true).c_str());
    ServerCapabilities noDsn = everything();
    noDsn.dsn = false;
    STRCMP_EQUAL("RCPT TO:<r@b.example>\r\n", rcptCommand(rcpt, noDsn, true).c_str());
    rcpt.notify = queue::kNotifyNever;
    rcpt.orcpt.clear();
    STRCMP_EQUAL("RCPT TO:<r@b.example> NOTIFY=NEVER\r\n", rcptCommand(rcpt, everything(), true).c_str());
}

TEST(SmtpClientCommands, OrcptIsSentAsValidXtext) {
    STRCMP_EQUAL("rfc822;a+2Bb@x.example", orcptParameter("rfc822;a+2Bb@x.example")->c_str());
    STRCMP_EQUAL("rfc822;a+2Bb@x.example", orcptParameter("rfc822;a+b@x.example")->c_str());
    STRCMP_EQUAL("rfc822;a+3Db@x.example", orcptParameter("RFC822;a=b@x.example")->c_str());
    STRCMP_EQUAL("utf-8;j\\x{E9}@x.example", orcptParameter("utf-8;j\xc3\xa9@x.example")->c_str());
    CHECK_FALSE(orcptParameter("x400;whatever").has_value());
    CHECK_FALSE(orcptParameter("no-semicolon").has_value());
    CHECK_FALSE(orcptParameter("rfc822;").has_value());
}

TEST(SmtpClientCommands, AddressesThatCouldBreakTheLineAreNotSendable) {
    CHECK_TRUE(isSendableAddress("a@b.example"));
    CHECK_TRUE(isSendableAddress(""));
    CHECK_TRUE(isSendableAddress("j\xc3\xa9@b.example"));
    CHECK_FALSE(isSendableAddress("a@b\r\nRCPT TO:<c@d>"));
    CHECK_FALSE(isSendableAddress("a>@b"));
    CHECK_FALSE(isSendableAddress(std::string(1001, 'a')));
}
