"""The service's HTTP routes, one router a concern: the page, the model list, speech, feedback
and A/B votes. Each reaches the running service through a `ServiceState` parameter."""
