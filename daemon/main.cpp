#include <cstdio>
int main() { std::puts("taskwatchd " TASKWATCH_VERSION); }
