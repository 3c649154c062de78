"""The script stage: YAML files to a validated model with the file and line of every node."""
