// smtp_params_test.cpp: unit tests for the ESMTP parameters of MAIL and RCPT
// (lib/smtp_params.h through parseCommand), one or more per parameter and error text.
#include <CppUTest/TestHarness.h>

#include <string>

#include "smtp_command.h"

using namespace postern;

namespace {

const std::string kMail = "MAIL FROM:<s@example.com> ";
const std::string kRcpt = "RCPT TO:<r@example.com> ";

MailParameters mailParams(const std::string& params, const CommandContext& context = {}) {
    auto result = parseCommand(kMail + params, context);
    if (!result.ok()) FAIL(("expected to parse: " + params + " -> " + result.error().detail).c_str());
    return result.command().mail;
}

RcptParameters rcptParams(const std::string& params, const CommandContext& context = {}) {
    auto result = parseCommand(kRcpt + params, context);
    if (!result.ok()) FAIL(("expected to parse: " + params + " -> " + result.error().detail).c_str());
    return result.command().rcpt;
}

std::string refusal(const std::string& line, const CommandContext& context = {}) {
    auto result = parseCommand(line, context);
    if (result.ok()) FAIL(("expected a refusal: " + line).c_str());
    std::string wire = result.error().reply.format();
    return wire.substr(0, wire.size() - 2);
}

}  // namespace

TEST_GROUP(MailParameters){};

TEST(MailParameters, NoneGiven) {
    MailParameters p = mailParams("");
    CHECK_FALSE(p.size.has_value());
    CHECK_TRUE(p.body == BodyType::unspecified);
    CHECK_FALSE(p.smtputf8);
    CHECK_TRUE(p.ret == DsnReturn::unspecified);
    CHECK_FALSE(p.envid.has_value());
    CHECK_FALSE(p.auth.has_value());
}

TEST(MailParameters, Size) {
    CHECK_TRUE(mailParams("SIZE=0").size == 0u);
    CHECK_TRUE(mailParams("size=10240000").size == 10240000u);
    CHECK_TRUE(mailParams("SIZE=18446744073709551615").size == UINT64_MAX);
    STRCMP_EQUAL("501 5.5.4 Bad message size syntax", refusal(kMail + "SIZE=18446744073709551616").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad message size syntax", refusal(kMail + "SIZE=").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad message size syntax", refusal(kMail + "SIZE").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad message size syntax", refusal(kMail + "SIZE=-1").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad message size syntax", refusal(kMail + "SIZE=1k").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad message size syntax", refusal(kMail + "SIZE=+1").c_str());
}

TEST(MailParameters, Body) {
    CHECK_TRUE(mailParams("BODY=7BIT").body == BodyType::sevenBit);
    CHECK_TRUE(mailParams("body=8bitmime").body == BodyType::eightBitMime);
    CommandContext binary;
    binary.offerBinaryMime = true;
    CHECK_TRUE(mailParams("BODY=BINARYMIME", binary).body == BodyType::binaryMime);
    STRCMP_EQUAL("555 5.5.4 Unsupported option: BODY=BINARYMIME", refusal(kMail + "BODY=BINARYMIME").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad BODY keyword: BODY=8BIT", refusal(kMail + "BODY=8BIT").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad BODY keyword: BODY", refusal(kMail + "BODY").c_str());
    CommandContext no8bit;
    no8bit.offerEightBitMime = false;
    STRCMP_EQUAL("555 5.5.4 Unsupported option: BODY=8BITMIME", refusal(kMail + "BODY=8BITMIME", no8bit).c_str());
    CHECK_TRUE(mailParams("BODY=7BIT", no8bit).body == BodyType::sevenBit);
    STRCMP_EQUAL("8BITMIME", std::string(bodyTypeName(BodyType::eightBitMime)).c_str());
    STRCMP_EQUAL("", std::string(bodyTypeName(BodyType::unspecified)).c_str());
}

TEST(MailParameters, Smtputf8) {
    CHECK_TRUE(mailParams("SMTPUTF8").smtputf8);
    CHECK_TRUE(mailParams("smtputf8").smtputf8);
    STRCMP_EQUAL("555 5.5.4 Unsupported option: SMTPUTF8=yes", refusal(kMail + "SMTPUTF8=yes").c_str());
    CommandContext off;
    off.offerSmtputf8 = false;
    STRCMP_EQUAL("555 5.5.4 Unsupported option: SMTPUTF8", refusal(kMail + "SMTPUTF8", off).c_str());
}

TEST(MailParameters, Ret) {
    CHECK_TRUE(mailParams("RET=FULL").ret == DsnReturn::full);
    CHECK_TRUE(mailParams("ret=hdrs").ret == DsnReturn::headers);
    STRCMP_EQUAL("HDRS", std::string(dsnReturnName(DsnReturn::headers)).c_str());
    STRCMP_EQUAL("501 5.5.4 Bad RET parameter syntax", refusal(kMail + "RET=BODY").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad RET parameter syntax", refusal(kMail + "RET").c_str());
}

TEST(MailParameters, Envid) {
    STRCMP_EQUAL("QQ314159+x y", mailParams("ENVID=QQ314159+2Bx+20y").envid->c_str());
    STRCMP_EQUAL(std::string(100, 'e').c_str(), mailParams("ENVID=" + std::string(100, 'e')).envid->c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ENVID parameter syntax", refusal(kMail + "ENVID=" + std::string(101, 'e')).c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ENVID parameter syntax", refusal(kMail + "ENVID=a+0Db").c_str());  // CR once decoded
    STRCMP_EQUAL("501 5.5.4 Bad ENVID parameter syntax", refusal(kMail + "ENVID=a+00").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ENVID parameter syntax", refusal(kMail + "ENVID=a+C3+A9").c_str());  // 8-bit
    STRCMP_EQUAL("501 5.5.4 Bad ENVID parameter syntax", refusal(kMail + "ENVID=a+2b").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ENVID parameter syntax", refusal(kMail + "ENVID=").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ENVID parameter syntax", refusal(kMail + "ENVID").c_str());
}

TEST(MailParameters, AuthIsValidatedAndKept) {
    STRCMP_EQUAL("<>", mailParams("AUTH=<>").auth->c_str());
    STRCMP_EQUAL("e+mc2@example.com", mailParams("AUTH=e+2Bmc2@example.com").auth->c_str());
    STRCMP_EQUAL("501 5.5.4 Bad AUTH parameter syntax", refusal(kMail + "AUTH=a+0A").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad AUTH parameter syntax", refusal(kMail + "AUTH=").c_str());
}

TEST(MailParameters, DsnParametersNeedDsn) {
    CommandContext noDsn;
    noDsn.offerDsn = false;
    STRCMP_EQUAL("555 5.5.4 Unsupported option: RET=FULL", refusal(kMail + "RET=FULL", noDsn).c_str());
    STRCMP_EQUAL("555 5.5.4 Unsupported option: ENVID=x", refusal(kMail + "ENVID=x", noDsn).c_str());
    STRCMP_EQUAL("555 5.5.4 Unsupported option: NOTIFY=NEVER", refusal(kRcpt + "NOTIFY=NEVER", noDsn).c_str());
    STRCMP_EQUAL("555 5.5.4 Unsupported option: ORCPT=rfc822;a@b", refusal(kRcpt + "ORCPT=rfc822;a@b", noDsn).c_str());
    CommandContext noSize;
    noSize.offerSize = false;
    STRCMP_EQUAL("555 5.5.4 Unsupported option: SIZE=1", refusal(kMail + "SIZE=1", noSize).c_str());
}

TEST(MailParameters, UnknownMalformedAndDuplicate) {
    STRCMP_EQUAL("555 5.5.4 Unsupported option: FOO", refusal(kMail + "FOO").c_str());
    STRCMP_EQUAL("555 5.5.4 Unsupported option: FOO=bar", refusal(kMail + "FOO=bar").c_str());
    STRCMP_EQUAL("555 5.5.4 Unsupported option: =1", refusal(kMail + "=1").c_str());
    STRCMP_EQUAL("555 5.5.4 Unsupported option: -X=1", refusal(kMail + "-X=1").c_str());
    STRCMP_EQUAL("555 5.5.4 Unsupported option: NOTIFY=NEVER", refusal(kMail + "NOTIFY=NEVER").c_str());
    STRCMP_EQUAL("501 5.5.4 Duplicate option: SIZE", refusal(kMail + "SIZE=1 size=2").c_str());
    STRCMP_EQUAL("501 5.5.4 Duplicate option: SMTPUTF8", refusal(kMail + "SMTPUTF8 SMTPUTF8").c_str());
    STRCMP_EQUAL("501 5.5.4 Duplicate option: RET", refusal(kMail + "RET=FULL RET=HDRS").c_str());
}

TEST(MailParameters, AllTogetherWithExtraSpaces) {
    CommandContext binary;
    binary.offerBinaryMime = true;
    auto result = parseCommand("MAIL FROM:<s@example.com>  SIZE=1000   BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id1 AUTH=<>  ", binary);
    CHECK_TRUE(result.ok());
    const MailParameters& p = result.command().mail;
    CHECK_TRUE(p.size == 1000u);
    CHECK_TRUE(p.body == BodyType::eightBitMime);
    CHECK_TRUE(p.smtputf8);
    CHECK_TRUE(p.ret == DsnReturn::headers);
    STRCMP_EQUAL("id1", p.envid->c_str());
    STRCMP_EQUAL("<>", p.auth->c_str());
}

TEST_GROUP(RcptParameters){};

TEST(RcptParameters, Notify) {
    LONGS_EQUAL(0, rcptParams("").notify);
    LONGS_EQUAL(notifyNever, rcptParams("NOTIFY=NEVER").notify);
    LONGS_EQUAL(notifySuccess | notifyFailure | notifyDelay, rcptParams("NOTIFY=success,Failure,DELAY").notify);
    LONGS_EQUAL(notifyDelay, rcptParams("NOTIFY=DELAY").notify);
    STRCMP_EQUAL("501 5.5.4 Bad NOTIFY parameter syntax", refusal(kRcpt + "NOTIFY=NEVER,SUCCESS").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad NOTIFY parameter syntax", refusal(kRcpt + "NOTIFY=SUCCESS,,DELAY").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad NOTIFY parameter syntax", refusal(kRcpt + "NOTIFY=SUCCESS,").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad NOTIFY parameter syntax", refusal(kRcpt + "NOTIFY=").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad NOTIFY parameter syntax", refusal(kRcpt + "NOTIFY=ALWAYS").c_str());
    STRCMP_EQUAL("501 5.5.4 Duplicate option: NOTIFY", refusal(kRcpt + "NOTIFY=DELAY NOTIFY=FAILURE").c_str());
}

TEST(RcptParameters, OrcptRfc822) {
    RcptParameters p = rcptParams("ORCPT=rfc822;user+2Btag@example.com");
    CHECK_TRUE(p.orcpt.has_value());
    STRCMP_EQUAL("rfc822", p.orcpt->addressType.c_str());
    STRCMP_EQUAL("user+tag@example.com", p.orcpt->address.c_str());
    STRCMP_EQUAL("rfc822", rcptParams("ORCPT=RFC822;a@b").orcpt->addressType.c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ORCPT parameter syntax", refusal(kRcpt + "ORCPT=rfc822").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ORCPT parameter syntax", refusal(kRcpt + "ORCPT=rfc822;").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ORCPT parameter syntax", refusal(kRcpt + "ORCPT=x400;a@b").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ORCPT parameter syntax", refusal(kRcpt + "ORCPT=rfc822;a+0D+0A@b").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ORCPT parameter syntax", refusal(kRcpt + "ORCPT=rfc822;a+C3+A9@b").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ORCPT parameter syntax", refusal(kRcpt + "ORCPT=rfc822;a+2b@b").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ORCPT parameter syntax", refusal(kRcpt + "ORCPT=rfc822;" + std::string(495, 'a')).c_str());
    STRCMP_EQUAL("501 5.5.4 Duplicate option: ORCPT", refusal(kRcpt + "ORCPT=rfc822;a@b ORCPT=rfc822;c@d").c_str());
}

TEST(RcptParameters, OrcptUtf8) {
    RcptParameters p = rcptParams("ORCPT=utf-8;j\\x{F6}rg@example.com");
    STRCMP_EQUAL("utf-8", p.orcpt->addressType.c_str());
    STRCMP_EQUAL("j\xC3\xB6rg@example.com", p.orcpt->address.c_str());
    // Raw UTF-8 (utf-8-addr-unitext) only in an SMTPUTF8 transaction.
    const std::string raw = "ORCPT=UTF-8;j\xC3\xB6rg@example.com";
    STRCMP_EQUAL("501 5.5.4 Bad ORCPT parameter syntax", refusal(kRcpt + raw).c_str());
    CommandContext utf8;
    utf8.transactionSmtputf8 = true;
    STRCMP_EQUAL("j\xC3\xB6rg@example.com", rcptParams(raw, utf8).orcpt->address.c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ORCPT parameter syntax", refusal(kRcpt + "ORCPT=utf-8;a\\x{0A}@b").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ORCPT parameter syntax", refusal(kRcpt + "ORCPT=utf-8;a\\x{c2}@b").c_str());
    STRCMP_EQUAL("501 5.5.4 Bad ORCPT parameter syntax", refusal(kRcpt + "ORCPT=utf-8;a+2B@b").c_str());
}

TEST(RcptParameters, UnknownAndMailOnlyParameters) {
    STRCMP_EQUAL("555 5.5.4 Unsupported option: SIZE=10", refusal(kRcpt + "SIZE=10").c_str());
    STRCMP_EQUAL("555 5.5.4 Unsupported option: XFOO", refusal(kRcpt + "XFOO").c_str());
    RcptParameters both = rcptParams("NOTIFY=FAILURE ORCPT=rfc822;r@example.com");
    LONGS_EQUAL(notifyFailure, both.notify);
    STRCMP_EQUAL("r@example.com", both.orcpt->address.c_str());
}
