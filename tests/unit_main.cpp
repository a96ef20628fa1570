// Runs every registered CppUnit suite (or those named on the command line)
// and closes with "unit: N passed, N failed" for tests/run-all to add up.
#include <cppunit/BriefTestProgressListener.h>
#include <cppunit/CompilerOutputter.h>
#include <cppunit/TestResult.h>
#include <cppunit/TestResultCollector.h>
#include <cppunit/TestRunner.h>
#include <cppunit/extensions/TestFactoryRegistry.h>

#include <iostream>

int main(int argc, char** argv) {
  CppUnit::TestResult controller;
  CppUnit::TestResultCollector collector;
  controller.addListener(&collector);
  CppUnit::BriefTestProgressListener progress;
  controller.addListener(&progress);

  CppUnit::Test* all = CppUnit::TestFactoryRegistry::getRegistry().makeTest();
  CppUnit::TestRunner runner;
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) runner.addTest(all->findTest(argv[i]));
  } else {
    runner.addTest(all);
  }
  runner.run(controller);

  CppUnit::CompilerOutputter outputter(&collector, std::cerr);
  outputter.write();
  const int failed = collector.testErrors() + collector.testFailures();
  const int passed = collector.runTests() - failed;
  std::cout << "unit: " << passed << " passed, " << failed << " failed" << std::endl;
  return failed == 0 ? 0 : 1;
}
