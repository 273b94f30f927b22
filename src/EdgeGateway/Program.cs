// Placeholder entry point; the composition root is being written.
return 0;
