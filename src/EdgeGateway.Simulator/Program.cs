// Placeholder entry point; the simulator command line is being written.
return 0;
