"""Development and test tools for the Functions app; never imported by `shared/` or deployed."""
