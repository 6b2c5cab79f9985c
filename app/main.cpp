#include <iostream>
int main() { std::cout << "volnode\n"; }
