"""The bank's trainers, one per model type (the operator's passive roles' peers).

base.py is the interface, registry.py the list of model types a job spec may name;
each model type adds its trainer module and one line in the registry.
"""
