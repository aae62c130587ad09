// The tests run child processes with the tools' helper.
#ifndef RUNIC_TESTS_CHILD_PROCESS_H_
#define RUNIC_TESTS_CHILD_PROCESS_H_

#include "support/child_process.h"

namespace runic::test {
using tools::ChildProcess;
using tools::Clock;
using tools::DescribeWait;
}  // namespace runic::test

#endif  // RUNIC_TESTS_CHILD_PROCESS_H_
