# The image of `adaptune cluster k8s` (docs/cluster.md#kubernetes-kuberay): Ray's own GPU
# image at the Ray and Python versions pyproject.toml pins, with this checkout installed in
# /home/ray/adaptune (kuberay.PROJECT_DIR), where a RayJob runs `adaptune search JOB`.
#   docker build -t REGISTRY/adaptune:VERSION . && docker push REGISTRY/adaptune:VERSION
FROM rayproject/ray:2.60.0-py311-gpu
WORKDIR /home/ray/adaptune
COPY --chown=ray:users . .
RUN pip install --no-cache-dir -e .
