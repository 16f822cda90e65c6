#include <cstdio>
int main() { std::puts("modelarts-sim " TASKWATCH_VERSION); }
