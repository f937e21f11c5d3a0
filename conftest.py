pytest_plugins = ["aria_platform.testing"]
