// master_service_table_test.cpp: unit tests for master/service_table.h: the plans made
// from a configuration, the socket changes a reload needs, and master's listener set with
// real sockets: kept across updates, replaced when changed, untouched when a bind fails.
#include "master/service_table.h"

#include <unistd.h>

#include <thread>

#include "sockets.h"
#include "test_support.h"
#include "config_parse.h"  // last: it brings in CppUTest

using namespace postern;
using namespace postern::master;
using postern::testing::parseOk;

namespace {

std::vector<std::string> namesOf(const std::vector<ListenerSpec>& specs) {
    std::vector<std::string> names;
    for (const auto& spec : specs) names.push_back(spec.name());
    return names;
}

std::string joined(const std::vector<std::string>& names) {
    std::string text;
    for (const auto& name : names) text += (text.empty() ? "" : " ") + name;
    return text;
}

// A TCP port nothing listens on now (on 127.0.0.1 and ::1), for configurations.
std::string freePort() {
    auto probe = sockets::listenInet("[::1]:0");
    auto where = probe ? sockets::localEndpoint(probe->get()) : Result<std::string>(fail("none"));
    return where ? where->substr(where->rfind(':') + 1) : "1";
}

std::vector<ServicePlan> plansFor(const std::string& configText, const std::string& queue) {
    Config config = parseOk(configText + "queue_directory = \"" + queue + "\";");
    auto plans = planServices(config, "/opt/postern/libexec");
    CHECK_TEXT(plans.ok(), plans.ok() ? "" : plans.error().c_str());
    return plans.value();
}

}  // namespace

// smtpd's listen list as a configuration line.
std::string listenOn(const std::string& addresses) {
    return "smtpd = { listen = [ " + addresses + " ]; };";
}

TEST_GROUP(MasterServiceTable) {
    testing::TempDir queue;
    ListenerSet set;
    std::string port = freePort();
    std::vector<ServicePlan> first;

    // Binds the default services with smtpd on 127.0.0.1:port.
    void setup() override {
        first = plansFor(listenOn("\"127.0.0.1:" + port + "\""), queue.path);
        CHECK_TRUE(set.update(first, queue.path, std::nullopt).ok());
    }
};

TEST(MasterServiceTable, DefaultServicesWithTheirProgramsAndSockets) {
    auto plans = plansFor(listenOn("\"127.0.0.1:2525\", \"[::1]:2525\""), "/q");
    LONGS_EQUAL(3, plans.size());
    STRCMP_EQUAL("smtpd", plans[0].name.c_str());
    STRCMP_EQUAL("/opt/postern/libexec/smtpd", plans[0].program.c_str());
    LONGS_EQUAL(std::max(1u, std::thread::hardware_concurrency()), plans[0].processes);
    CHECK_FALSE(plans[0].exclusive);
    STRCMP_EQUAL("inet:127.0.0.1:2525 inet:[::1]:2525 unix:public/submit",
                 joined(namesOf(plans[0].listeners)).c_str());
    STRCMP_EQUAL("qmgr", plans[1].name.c_str());
    LONGS_EQUAL(1, plans[1].processes);
    CHECK_TRUE(plans[1].exclusive);
    STRCMP_EQUAL("unix:private/qmgr", joined(namesOf(plans[1].listeners)).c_str());
    STRCMP_EQUAL("smtp", plans[2].name.c_str());
    LONGS_EQUAL(2, plans[2].processes);
    STRCMP_EQUAL("unix:private/smtp", joined(namesOf(plans[2].listeners)).c_str());
}

TEST(MasterServiceTable, TheServicesTableSetsProcessCounts) {
    auto plans = plansFor("services = ( { name = \"smtp\"; processes = 5; } );", "/q");
    LONGS_EQUAL(5, plans[2].processes);
}

TEST(MasterServiceTable, DiffBindsWhatIsNewAndClosesWhatIsGone) {
    auto plans = plansFor(listenOn("\"127.0.0.1:2526\", \"127.0.0.1:2527\""), "/q");
    ListenerChanges changes = diffListeners(
        {"inet:127.0.0.1:2525", "inet:127.0.0.1:2526", "unix:private/qmgr", "unix:private/smtp",
         "unix:public/submit"},
        plans);
    STRCMP_EQUAL("inet:127.0.0.1:2527", joined(namesOf(changes.toBind)).c_str());
    STRCMP_EQUAL("inet:127.0.0.1:2525", joined(changes.toClose).c_str());
}

TEST(MasterServiceTable, NothingChangesWhenNothingChanged) {
    auto plans = plansFor("", "/q");
    std::vector<std::string> open;
    for (const auto& plan : plans) {
        for (const auto& name : namesOf(plan.listeners)) open.push_back(name);
    }
    ListenerChanges changes = diffListeners(open, plans);
    CHECK_TRUE(changes.toBind.empty());
    CHECK_TRUE(changes.toClose.empty());
}

TEST(MasterServiceTable, SocketsSurviveAnUpdateThatKeepsThem) {
    STRCMP_EQUAL(("inet:127.0.0.1:" + port +
                  " unix:private/qmgr unix:private/smtp unix:public/submit").c_str(),
                 joined(set.names()).c_str());
    int smtpFd = set.forService(first[2])[0].fd;
    CHECK_TRUE(access((queue.path + "/private/smtp").c_str(), F_OK) == 0);

    auto second = plansFor(listenOn("\"[::1]:" + port + "\""), queue.path);
    CHECK_TRUE(set.update(second, queue.path, std::nullopt).ok());
    STRCMP_EQUAL(("inet:[::1]:" + port + " unix:private/qmgr unix:private/smtp unix:public/submit")
                     .c_str(),
                 joined(set.names()).c_str());
    LONGS_EQUAL(smtpFd, set.forService(second[2])[0].fd);  // the same socket, not a new one
    auto smtpd = set.forService(second[0]);
    LONGS_EQUAL(2, smtpd.size());
    STRCMP_EQUAL(("inet:[::1]:" + port).c_str(), smtpd[0].name.c_str());
    STRCMP_EQUAL("unix:public/submit", smtpd[1].name.c_str());
}

TEST(MasterServiceTable, AFailedBindChangesNothing) {
    auto before = set.names();
    int smtpdFd = set.forService(first[0])[0].fd;

    // 192.0.2.1 (TEST-NET-1) is no address of this machine: the bind fails.
    auto broken = plansFor(listenOn("\"[::1]:" + port + "\", \"192.0.2.1:25\""), queue.path);
    auto updated = set.update(broken, queue.path, std::nullopt);
    CHECK_FALSE(updated.ok());
    CHECK_TRUE(updated.error().find("inet:192.0.2.1:25") != std::string::npos);
    STRCMP_EQUAL(joined(before).c_str(), joined(set.names()).c_str());
    LONGS_EQUAL(smtpdFd, set.forService(first[0])[0].fd);
}
