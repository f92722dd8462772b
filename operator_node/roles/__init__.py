"""The operator's passive roles, one per model type (the bank's trainers' peers).

base.py is the interface, registry.py the list this node serves; each model type adds
its role module and one line in the registry.
"""
